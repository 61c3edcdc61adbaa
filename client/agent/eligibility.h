#ifndef COHORT_CLIENT_AGENT_ELIGIBILITY_H_
#define COHORT_CLIENT_AGENT_ELIGIBILITY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/agent/device_probes.h"
#include "common/base/clock.h"
#include "common/base/error_once.h"

namespace cohort::client {

// EligibilityConfig resolved (ResolveAgentOptions). Every rule is off at its
// default, so a default EligibilityOptions admits any device at any time.
struct EligibilityOptions {
  bool require_ac_power = false;
  // In [0, 100]; 0: off.
  int min_battery_percent = 0;
  // 0: off.
  double max_load_average = 0;
  // Degrees Celsius; 0: off.
  double max_temperature_c = 0;
  // Minutes after local midnight, each in [0, 1440); start inclusive, end
  // exclusive, wrapping past midnight when end < start. Equal: any time.
  int window_start_minute = 0;
  int window_end_minute = 0;
  // 0: off.
  int64_t min_new_examples = 0;
  // How long to wait before looking again after a refusal (rule or budget).
  absl::Duration recheck_interval = absl::Seconds(60);
  // How often the device rules are read again during training.
  absl::Duration training_check_interval = absl::Seconds(5);
};

// Whether the device may work now, by the rules of EligibilityOptions.
//
// The device rules (power, battery, load average, temperature, time window)
// read the probes and the clock; a rule that is off reads nothing. The
// examples rule compares the examples ever added to the device with the
// count at its last accepted round, which this class keeps in
// <state_dir>/eligibility (a StateValues file; a corrupt one is moved aside
// and the count starts at 0).
//
// A refusal is FAILED_PRECONDITION whose message starts with the rule's
// config path, then says what was found: "eligibility.require_ac_power: on
// battery", "eligibility.max_load_average: load average 3.2 above 2". A
// value the device does not have passes its rule, logged once: no battery
// (for min_battery_percent; require_ac_power then sees a device on AC), no
// thermal zone (max_temperature_c). A probe error fails its rule.
//
// Owns its probes; borrows the clock. Not thread-safe: the agent loop (and
// the stop check it hands to the trainer, on the same thread) uses it.
class EligibilityPolicy {
 public:
  static constexpr char kStateFile[] = "eligibility";
  // Its one name (state_file.h's format).
  static constexpr char kStateKey[] = "examples_at_last_round";

  // Null probes in `probes` are replaced by the Linux ones (/sys, /proc).
  // Reads the state file when min_new_examples is on.
  EligibilityPolicy(const EligibilityOptions& options, DeviceProbes probes,
                    base::Clock* clock, absl::TimeZone zone,
                    std::string state_dir);

  // Every rule: CheckDevice(0), then the examples rule for a device that
  // has had `examples_added` examples added in all.
  absl::Status Check(int64_t examples_added);

  // The device rules. `own_load` is added to max_load_average: while
  // training, the agent's own threads raise the load it reads.
  absl::Status CheckDevice(double own_load);

  // Whether any device rule is on (else CheckDevice reads nothing).
  bool has_device_rules() const;

  // A round was accepted after `examples_added` examples in all: the
  // examples rule counts from here. Saved when the rule is on; a failed save is
  // logged and the count kept in memory.
  void RoundAccepted(int64_t examples_added);

  int64_t examples_at_last_round() const { return examples_at_last_round_; }

 private:
  absl::Status CheckWindow() const;
  absl::Status CheckPower();
  absl::Status CheckLoad(double own_load);
  absl::Status CheckTemperature();
  absl::Status CheckExamples(int64_t examples_added) const;
  // Logs `note` the first time `*noted` is false.
  static void NoteOnce(bool* noted, const char* note);

  const EligibilityOptions options_;
  DeviceProbes probes_;
  base::Clock* const clock_;
  const absl::TimeZone zone_;
  const std::string state_path_;
  int64_t examples_at_last_round_ = 0;
  bool noted_no_battery_ = false;
  bool noted_no_thermal_ = false;
  // The last save error logged; empty after a success.
  base::ErrorOnce save_errors_;
};

// Whether `minute` (after local midnight) is inside [start, end), wrapping
// past midnight when end < start; always when start == end.
bool InWindow(int minute, int start, int end);

// The min_new_examples rule on its own: OK, or FAILED_PRECONDITION starting
// "eligibility.min_new_examples: " when fewer than `min_new_examples` (0:
// off) examples were added since `at_last_round` (both counts of examples
// ever added: ExampleSource::Added). Pure: the policy and
// `cohort-agent status` share it.
absl::Status CheckNewExamples(int64_t min_new_examples, int64_t added,
                              int64_t at_last_round);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_ELIGIBILITY_H_
