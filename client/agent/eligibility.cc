#include "client/agent/eligibility.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "client/agent/state_file.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr const char* kExamplesKey = EligibilityPolicy::kStateKey;

absl::Status Refuse(absl::string_view rule, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("eligibility.", rule, ": ", why));
}

std::string Clock24(int minute) {
  return absl::StrFormat("%02d:%02d", minute / 60, minute % 60);
}

}  // namespace

bool InWindow(int minute, int start, int end) {
  if (start == end) return true;
  if (start < end) return minute >= start && minute < end;
  return minute >= start || minute < end;  // wraps past midnight
}

EligibilityPolicy::EligibilityPolicy(const EligibilityOptions& options,
                                     DeviceProbes probes, base::Clock* clock,
                                     absl::TimeZone zone,
                                     std::string state_dir)
    : options_(options),
      probes_(std::move(probes)),
      clock_(clock),
      zone_(zone),
      state_path_(std::move(state_dir) + "/" + kStateFile) {
  if (probes_.power == nullptr) {
    probes_.power = std::make_unique<SysfsPowerProbe>();
  }
  if (probes_.load == nullptr) probes_.load = std::make_unique<ProcLoadProbe>();
  if (probes_.thermal == nullptr) {
    probes_.thermal = std::make_unique<SysfsThermalProbe>();
  }
  if (options_.min_new_examples == 0) return;
  if (auto saved = LoadStateValues(state_path_, {kExamplesKey},
                                   "eligibility state");
      saved.has_value()) {
    examples_at_last_round_ = saved->at(kExamplesKey);
  }
}

bool EligibilityPolicy::has_device_rules() const {
  return options_.require_ac_power || options_.min_battery_percent > 0 ||
         options_.max_load_average > 0 || options_.max_temperature_c > 0 ||
         options_.window_start_minute != options_.window_end_minute;
}

absl::Status EligibilityPolicy::Check(int64_t examples_added) {
  if (absl::Status device = CheckDevice(0); !device.ok()) return device;
  return CheckExamples(examples_added);
}

absl::Status EligibilityPolicy::CheckDevice(double own_load) {
  // The window first: it reads no file.
  if (absl::Status s = CheckWindow(); !s.ok()) return s;
  if (absl::Status s = CheckPower(); !s.ok()) return s;
  if (absl::Status s = CheckLoad(own_load); !s.ok()) return s;
  return CheckTemperature();
}

absl::Status EligibilityPolicy::CheckWindow() const {
  const int start = options_.window_start_minute;
  const int end = options_.window_end_minute;
  if (start == end) return absl::OkStatus();
  const absl::CivilMinute now = absl::ToCivilMinute(clock_->Now(), zone_);
  const int minute = now.hour() * 60 + now.minute();
  if (InWindow(minute, start, end)) return absl::OkStatus();
  return Refuse("window_start_minute",
                absl::StrCat("local time ", Clock24(minute),
                             " is outside the window ", Clock24(start), "-",
                             Clock24(end)));
}

absl::Status EligibilityPolicy::CheckPower() {
  const bool battery_rule = options_.min_battery_percent > 0;
  if (!options_.require_ac_power && !battery_rule) return absl::OkStatus();
  auto power = probes_.power->Read();
  if (!power.ok()) {
    return Refuse(
        options_.require_ac_power ? "require_ac_power" : "min_battery_percent",
        absl::StrCat("cannot read the power supply: ",
                     power.status().message()));
  }
  if (options_.require_ac_power && !power->on_ac) {
    return Refuse("require_ac_power", "on battery");
  }
  if (!battery_rule) return absl::OkStatus();
  if (!power->battery_percent.has_value()) {
    NoteOnce(&noted_no_battery_,
             "eligibility.min_battery_percent: no battery found; the rule "
             "passes");
    return absl::OkStatus();
  }
  if (*power->battery_percent < options_.min_battery_percent) {
    return Refuse("min_battery_percent",
                  absl::StrCat("battery at ", *power->battery_percent,
                               "%, below ", options_.min_battery_percent,
                               "%"));
  }
  return absl::OkStatus();
}

absl::Status EligibilityPolicy::CheckLoad(double own_load) {
  if (options_.max_load_average <= 0) return absl::OkStatus();
  auto load = probes_.load->OneMinuteAverage();
  if (!load.ok()) {
    return Refuse("max_load_average",
                  absl::StrCat("cannot read the load average: ",
                               load.status().message()));
  }
  const double limit = options_.max_load_average + std::max(0.0, own_load);
  if (*load > limit) {
    return Refuse("max_load_average",
                  absl::StrCat("load average ", *load, " above ", limit));
  }
  return absl::OkStatus();
}

absl::Status EligibilityPolicy::CheckTemperature() {
  if (options_.max_temperature_c <= 0) return absl::OkStatus();
  auto hottest = probes_.thermal->HottestCelsius();
  if (!hottest.ok()) {
    return Refuse("max_temperature_c",
                  absl::StrCat("cannot read the temperature: ",
                               hottest.status().message()));
  }
  if (!hottest->has_value()) {
    NoteOnce(&noted_no_thermal_,
             "eligibility.max_temperature_c: no thermal zone found; the rule "
             "cannot be checked and passes");
    return absl::OkStatus();
  }
  if (**hottest > options_.max_temperature_c) {
    return Refuse("max_temperature_c",
                  absl::StrCat("hottest thermal zone at ", **hottest,
                               " C, above ", options_.max_temperature_c,
                               " C"));
  }
  return absl::OkStatus();
}

absl::Status CheckNewExamples(int64_t min_new_examples, int64_t added,
                              int64_t at_last_round) {
  if (min_new_examples == 0) return absl::OkStatus();
  // Fewer added in all than at the last round: a new store (the damaged
  // one moved aside) counting from 0 again, whose examples are all new.
  const int64_t fresh = added >= at_last_round ? added - at_last_round : added;
  if (fresh >= min_new_examples) return absl::OkStatus();
  return Refuse("min_new_examples",
                absl::StrCat(fresh, " new examples since the last round (",
                             added, " added in all, ", at_last_round,
                             " then), below ", min_new_examples));
}

absl::Status EligibilityPolicy::CheckExamples(int64_t examples_added) const {
  return CheckNewExamples(options_.min_new_examples, examples_added,
                          examples_at_last_round_);
}

void EligibilityPolicy::RoundAccepted(int64_t examples_added) {
  examples_at_last_round_ = examples_added;
  if (options_.min_new_examples == 0) return;
  const absl::Status saved = SaveStateValues(
      state_path_, {{kExamplesKey, examples_added}},
      "cohort-agent: examples added by the last accepted round");
  if (save_errors_.ShouldLog(saved)) {
    LOG(WARNING) << "cannot save " << state_path_ << ": " << saved
                 << "; the count is kept in memory";
  }
}

void EligibilityPolicy::NoteOnce(bool* noted, const char* note) {
  if (*noted) return;
  *noted = true;
  LOG(INFO) << note;
}

}  // namespace cohort::client
