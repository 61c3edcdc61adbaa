#ifndef COHORT_CLIENT_AGENT_WORK_GATE_H_
#define COHORT_CLIENT_AGENT_WORK_GATE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/agent/agent_counters.h"
#include "client/agent/agent_options.h"
#include "client/agent/budgets.h"
#include "client/agent/device_probes.h"
#include "client/agent/eligibility.h"
#include "client/train/trainer.h"
#include "common/base/clock.h"

namespace cohort::client {

// The agent's gatekeeper: whether it may take work now (EligibilityPolicy,
// then Budgets), whether it may go on training, and what a finished round
// used. The agent loop asks it before every check-in and before every
// model download, hands its stop check to the trainer, and tells it about
// every reported round. Traffic is charged from the AgentCounters the agent
// passes in (cohort_agent_bytes_total), never from the transport as well.
//
// A refusal names its rule or cap first (see EligibilityPolicy, Budgets):
// FAILED_PRECONDITION for an eligibility rule, RESOURCE_EXHAUSTED for a
// budget; RefusalFor maps it to its counter label. The gate logs a refusal
// when its rule differs from the previous answer's, and logs once when work
// is allowed again, so a device that stays on battery all day logs once,
// not every recheck.
//
// Owns the policy, the budgets and their probes; borrows the clock. Not
// thread-safe: the agent loop uses it, and the stop check runs on the
// thread that calls Trainer::Train (the same one).
class WorkGate {
 public:
  // `options` gives eligibility, budgets, num_threads (the load the agent's
  // own training adds) and state_dir. Null probes are replaced by the Linux
  // ones.
  WorkGate(const AgentOptions& options, DeviceProbes probes,
           std::unique_ptr<MemoryProbe> memory, base::Clock* clock,
           absl::TimeZone zone);

  // The gate of a real device: the Linux probes on /sys and /proc, the
  // real clock and the machine's local time zone.
  static std::unique_ptr<WorkGate> ForDevice(const AgentOptions& options);

  // Whether to check in now, for a device holding `examples_held` examples
  // of the `examples_added` ever added to it (ExampleSource), with
  // `counters`' traffic charged first. OK, or the refusal; a device holding
  // none is refused as FAILED_PRECONDITION "examples: ...".
  absl::Status Admit(int64_t examples_held, int64_t examples_added,
                     const AgentCounters& counters);

  // Whether a model download of `bytes` fits today's download budget.
  // OK or RESOURCE_EXHAUSTED (not logged: the caller reports it).
  absl::Status AdmitDownload(int64_t bytes, const AgentCounters& counters);

  // The stop check for one round's training: true once a device rule
  // fails, read at most every training_check_interval (the first call
  // reads). The failure is kept in training_lost() until the next
  // WatchTraining. The check borrows the gate.
  StopCheck WatchTraining();
  const absl::Status& training_lost() const { return training_lost_; }

  // A round ended with a report, accepted or not used. Counts it against
  // max_rounds_per_day; an accepted one restarts the new-examples count
  // from `examples_added`.
  void RoundReported(bool accepted, int64_t examples_added,
                     const AgentCounters& counters);

  // How long to wait after a refusal.
  absl::Duration recheck_interval() const { return recheck_interval_; }

  EligibilityPolicy& eligibility() { return eligibility_; }
  Budgets& budgets() { return budgets_; }

 private:
  // Whether the device rules still hold during training.
  bool StillEligible();
  // Logs `answer` when its rule differs from the last one's.
  void Note(const absl::Status& answer);

  EligibilityPolicy eligibility_;
  Budgets budgets_;
  base::Clock* const clock_;
  const absl::Duration recheck_interval_;
  const absl::Duration training_check_interval_;
  // The load the agent's own training threads add.
  const double own_load_;
  // The rule of the last refusal logged; empty when work was allowed.
  std::string refused_rule_;
  absl::Time next_training_check_ = absl::InfinitePast();
  absl::Status training_lost_;
};

// The counter label of a refusal from WorkGate: kBudget for
// RESOURCE_EXHAUSTED, else kIneligible.
Refusal RefusalFor(const absl::Status& refused);

// The rule or cap a refusal names: its message up to the first ':'
// ("eligibility.require_ac_power").
std::string RuleOf(const absl::Status& refused);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_WORK_GATE_H_
