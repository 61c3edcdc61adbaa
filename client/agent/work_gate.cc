#include "client/agent/work_gate.h"

#include <utility>

#include "glog/logging.h"

namespace cohort::client {
namespace {

Traffic TrafficOf(const AgentCounters& counters) {
  return Traffic{counters.bytes_sent(), counters.bytes_received()};
}

}  // namespace

WorkGate::WorkGate(const AgentOptions& options, DeviceProbes probes,
                   std::unique_ptr<MemoryProbe> memory, base::Clock* clock,
                   absl::TimeZone zone)
    : eligibility_(options.eligibility, std::move(probes), clock, zone,
                   options.state_dir),
      budgets_(options.budgets, options.state_dir, std::move(memory), clock,
               zone),
      clock_(clock),
      recheck_interval_(options.eligibility.recheck_interval),
      training_check_interval_(options.eligibility.training_check_interval),
      own_load_(static_cast<double>(options.num_threads)) {}

std::unique_ptr<WorkGate> WorkGate::ForDevice(const AgentOptions& options) {
  return std::make_unique<WorkGate>(options, DeviceProbes{}, nullptr,
                                    base::RealClock::Get(),
                                    absl::LocalTimeZone());
}

absl::Status WorkGate::Admit(int64_t examples_held, int64_t examples_added,
                             const AgentCounters& counters) {
  budgets_.CountTraffic(TrafficOf(counters));
  // Nothing to train on (an application has not added examples yet).
  absl::Status answer =
      examples_held > 0
          ? eligibility_.Check(examples_added)
          : absl::FailedPreconditionError(
                "examples: the device holds no examples to train on yet");
  if (answer.ok()) answer = budgets_.CheckBeforeRound();
  Note(answer);
  return answer;
}

absl::Status WorkGate::AdmitDownload(int64_t bytes,
                                     const AgentCounters& counters) {
  budgets_.CountTraffic(TrafficOf(counters));
  return budgets_.CheckDownload(bytes);
}

StopCheck WorkGate::WatchTraining() {
  training_lost_ = absl::OkStatus();
  next_training_check_ = absl::InfinitePast();
  return [this] { return !StillEligible(); };
}

bool WorkGate::StillEligible() {
  if (!training_lost_.ok()) return false;
  if (!eligibility_.has_device_rules()) return true;
  const absl::Time now = clock_->Now();
  if (now < next_training_check_) return true;
  next_training_check_ = now + training_check_interval_;
  training_lost_ = eligibility_.CheckDevice(own_load_);
  if (!training_lost_.ok()) {
    LOG(INFO) << "no longer eligible during training: "
              << training_lost_.message() << "; abandoning the round";
  }
  return training_lost_.ok();
}

void WorkGate::RoundReported(bool accepted, int64_t examples_added,
                             const AgentCounters& counters) {
  budgets_.CountTraffic(TrafficOf(counters));
  budgets_.RoundReported();
  if (accepted) eligibility_.RoundAccepted(examples_added);
}

void WorkGate::Note(const absl::Status& answer) {
  const std::string rule = answer.ok() ? "" : RuleOf(answer);
  if (rule == refused_rule_) return;
  if (answer.ok()) {
    LOG(INFO) << "work allowed again: checking in";
  } else {
    LOG(INFO) << "not checking in: " << answer.message()
              << "; looking again every " << recheck_interval_;
  }
  refused_rule_ = rule;
}

Refusal RefusalFor(const absl::Status& refused) {
  return refused.code() == absl::StatusCode::kResourceExhausted
             ? Refusal::kBudget
             : Refusal::kIneligible;
}

std::string RuleOf(const absl::Status& refused) {
  const absl::string_view message = refused.message();
  return std::string(message.substr(0, message.find(':')));
}

}  // namespace cohort::client
