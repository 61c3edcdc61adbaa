#ifndef COHORT_CLIENT_AGENT_AGENT_STATUS_H_
#define COHORT_CLIENT_AGENT_AGENT_STATUS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/agent/agent_options.h"
#include "client/agent/budgets.h"
#include "client/agent/device_probes.h"
#include "client/agent/last_round.h"
#include "common/base/clock.h"

namespace cohort::client {

// `cohort-agent status`: what a device holds and whether it would work
// now, read from its config and state directory while the agent may be
// running (status_format.h prints it). Plain values; ReadAgentStatus fills
// them. The agent writes every file atomically, so each part is a whole
// file's, though two parts may be from either side of a write.

// The model in the state directory (ModelCache's files).
struct ModelStatus {
  // Hex SHA-256 of model.pb; empty when there is none.
  std::string sha256;
  // model.arch; empty when it is missing.
  std::string architecture;
  // The version: known when the last round's model has this SHA-256 (the
  // state directory keeps no version of its own).
  std::optional<int64_t> version;
};

// The release policy's state (ReleaseGuard's files).
struct ReleaseStatus {
  // The highest release accepted, as <state_dir>/release records it; 0
  // when none is. (ReleaseGuard raises it on start to the release of a
  // verified manifest.pb when that is higher; the status verifies nothing.)
  absl::StatusOr<int64_t> highest_held = int64_t{0};
  // trust.root_path; empty when no root is pinned.
  std::string root_pinned;
};

// Whether the agent would check in now, by WorkGate::Admit's rules: the
// eligibility rules, then the daily budget caps.
struct EligibilityStatus {
  bool eligible = true;
  // The refusal, naming its rule or cap first ("eligibility.require_ac_power:
  // on battery"); empty when eligible.
  std::string reason;
};

// The day's budget usage (Budgets' file) and the caps it counts against.
struct BudgetStatus {
  // The caps, as configured (0: no cap).
  BudgetOptions caps;
  // Today's usage as the agent last saved it (it saves traffic at most
  // every Budgets::kTrafficSaveInterval): zero for a new day. Kept only
  // while caps.has_daily_caps().
  DailyUsage usage;
};

// What `cohort-agent status` shows. A part that could not be read holds
// the error (its message names the file); it never stops the rest.
struct AgentStatus {
  std::string device_id;
  std::string state_dir;
  absl::StatusOr<ModelStatus> model = ModelStatus{};
  ReleaseStatus release;
  EligibilityStatus eligibility;
  absl::StatusOr<BudgetStatus> budgets = BudgetStatus{};
  // NOT_FOUND before the first round the agent joined.
  absl::StatusOr<LastRound> last_round = absl::NotFoundError("no round yet");
};

// What the status reads besides the state directory. Every member may be
// left empty: null probes are the Linux ones (/sys, /proc), a null clock
// is the real one.
struct StatusEnvironment {
  DeviceProbes probes;
  base::Clock* clock = nullptr;
  // The zone whose calendar day the budgets count (the agent's: local).
  absl::TimeZone zone = absl::LocalTimeZone();
  // The examples ever added to the device (ExampleSource::Added), for
  // eligibility.min_new_examples;
  // called only when that rule is on. Unset: the rule cannot be checked
  // and fails, as a probe error does.
  std::function<absl::StatusOr<int64_t>()> examples_added;
};

// The device's status: the model, release, eligibility, budgets and last
// round, from `options` and its state directory. Reads only: nothing in
// the state directory is written, renamed or removed (a corrupt file is
// reported, not moved aside as the agent would), so it may run beside the
// agent. The resident-memory cap (budgets.max_resident_mib) is the
// agent's own process's and is not checked.
AgentStatus ReadAgentStatus(const AgentOptions& options,
                            StatusEnvironment environment);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_STATUS_H_
