#ifndef COHORT_CLIENT_AGENT_BUDGETS_H_
#define COHORT_CLIENT_AGENT_BUDGETS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "client/agent/device_probes.h"
#include "client/agent/state_file.h"
#include "common/base/clock.h"
#include "common/base/error_once.h"

namespace cohort::client {

// BudgetConfig resolved (ResolveAgentOptions). Every cap is off at 0 (or
// an infinite duration).
struct BudgetOptions {
  // The cap on training threads; ResolveAgentOptions has already lowered
  // AgentOptions::num_threads to it. 0: no cap.
  int max_training_threads = 0;
  // Longest time from an assignment to the end of local training.
  absl::Duration max_round_time = absl::InfiniteDuration();
  int max_rounds_per_day = 0;
  int64_t max_upload_bytes_per_day = 0;
  int64_t max_download_bytes_per_day = 0;
  int64_t max_resident_mib = 0;

  // Whether a per-day cap is on (usage is then saved).
  bool has_daily_caps() const {
    return max_rounds_per_day > 0 || max_upload_bytes_per_day > 0 ||
           max_download_bytes_per_day > 0;
  }
};

// Bytes sent and received since the agent's counters started
// (AgentCounters, cohort_agent_bytes_total): the one source of traffic.
struct Traffic {
  int64_t sent = 0;
  int64_t received = 0;
};

// What one local day has used.
struct DailyUsage {
  absl::CivilDay day;
  int64_t rounds = 0;
  int64_t uploaded_bytes = 0;
  int64_t downloaded_bytes = 0;
};

// The agent's caps, and the usage they are checked against.
//
// A day is a calendar day of `zone` at `clock`'s time; usage starts again
// at its midnight. The day's usage is kept in <state_dir>/budgets, a
// StateValues file (day as yyyymmdd, rounds, uploaded_bytes,
// downloaded_bytes), only while a per-day cap is on. It is read once at
// construction: a file of an earlier day counts as nothing used; a corrupt
// one (or one from a day that does not exist) is moved aside to
// budgets.corrupt and usage starts from zero. It is written atomically
// after each round, on a new day, at most once a minute for traffic alone,
// and when the object is destroyed; a failed write (a full disk) is logged
// once per distinct error and usage goes on in memory. A process killed
// between writes loses at most a minute of traffic.
//
// A refusal is RESOURCE_EXHAUSTED whose message starts with the cap's
// config path: "budgets.max_rounds_per_day: 24 of 24 rounds used today".
//
// Owns the memory probe; borrows the clock. Not thread-safe: the agent loop
// uses it.
class Budgets {
 public:
  static constexpr char kStateFile[] = "budgets";
  // How often traffic alone is saved.
  static constexpr absl::Duration kTrafficSaveInterval = absl::Minutes(1);

  // A null `memory` is replaced by the Linux probe (/proc/self/status).
  Budgets(const BudgetOptions& options, std::string state_dir,
          std::unique_ptr<MemoryProbe> memory, base::Clock* clock,
          absl::TimeZone zone);
  ~Budgets();
  Budgets(const Budgets&) = delete;
  Budgets& operator=(const Budgets&) = delete;

  // Adds the traffic since the previous call to today's usage. `totals`
  // count from the agent's start: the first call counts all of it.
  void CountTraffic(const Traffic& totals);

  // Whether a round may start: rounds, upload and download used today
  // below their caps, and resident memory not above its cap.
  // RESOURCE_EXHAUSTED naming the first cap that is spent (or whose memory
  // reading failed).
  absl::Status CheckBeforeRound();

  // Whether downloading `bytes` more today stays within
  // max_download_bytes_per_day. RESOURCE_EXHAUSTED otherwise.
  absl::Status CheckDownload(int64_t bytes);

  // A round ended with a report: counted against max_rounds_per_day, and
  // saved.
  void RoundReported();

  // Today's usage (after a rollover at midnight, if one is due).
  const DailyUsage& usage();

 private:
  // Starts a new day's usage when the day has changed.
  void RollOver();
  void Load();
  // Writes the usage when a per-day cap is on and `force` or the traffic
  // interval has passed.
  void Save(bool force);

  const BudgetOptions options_;
  const std::string path_;
  std::unique_ptr<MemoryProbe> memory_;
  base::Clock* const clock_;
  const absl::TimeZone zone_;
  DailyUsage usage_;
  Traffic counted_;
  bool dirty_ = false;
  absl::Time last_save_ = absl::InfinitePast();
  // The last save error logged; empty after a success.
  base::ErrorOnce save_errors_;
};

// A day as the budgets file stores it: 20240131.
int64_t DayNumber(absl::CivilDay day);

// The names in the budgets file (state_file.h's format).
std::vector<std::string> BudgetStateKeys();

// Today's usage from the budgets file's values: empty when they are an
// earlier (or, after the clock was set back, a later) day's. DATA_LOSS when
// their day names no date. Pure: Budgets and `cohort-agent status` share it.
absl::StatusOr<DailyUsage> UsageOfToday(const StateValues& saved,
                                        absl::CivilDay today);

// The per-day caps against `usage`: OK, or RESOURCE_EXHAUSTED naming the
// first cap spent ("budgets.max_rounds_per_day: 24 of 24 rounds used
// today"). Pure, like UsageOfToday.
absl::Status CheckDailyCaps(const BudgetOptions& caps, const DailyUsage& usage);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_BUDGETS_H_
