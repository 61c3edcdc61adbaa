// The agent's gatekeeper in the loop, against a scripted coordinator and
// fake probes: an ineligible device does not check in and resumes when the
// probe changes; eligibility lost in training abandons the round; spent
// budgets (rounds per day, downloads, time per round) refuse work and name
// the cap; finished rounds are recorded for the rules that count them.

#include "client/agent/work_gate.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/agent/state_file.h"
#include "common/base/files.h"
#include "common/model/weights_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"
#include "tests/client/agent/fake_probes.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/prometheus_text.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

// Polls `done` until it holds or a minute of real time passes: a bound so a
// broken agent fails the test instead of hanging it, not a timing check.
bool WaitUntil(const std::function<bool()>& done) {
  const absl::Time give_up = absl::Now() + absl::Minutes(1);
  while (!done()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class WorkGateTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    options_.eligibility.recheck_interval = absl::Milliseconds(1);
  }

  // The gate the agent will ask: `probes` and `memory` on the fake clock,
  // in UTC, with options_ as they are now.
  void Gate(DeviceProbes probes = {},
            std::unique_ptr<MemoryProbe> memory = nullptr) {
    gate_ = std::make_unique<WorkGate>(options_, std::move(probes),
                                       std::move(memory), &clock_,
                                       absl::UTCTimeZone());
  }

  double Refusals(const std::string& reason) const {
    return testing::SampleValue(counters_.Text(), "cohort_agent_refusals_total",
                                {{"reason", reason}})
        .value_or(-1);
  }

  double Rounds(const std::string& result) const {
    return testing::SampleValue(counters_.Text(), "cohort_agent_rounds_total",
                                {{"result", result}})
        .value_or(-1);
  }

  testing::FakeClock clock_;
};

// ---------------------------------------------------------------------------
// The gate on its own.

TEST_F(WorkGateTest, RefusalsMapToTheirLabelAndRule) {
  const absl::Status budget =
      absl::ResourceExhaustedError("budgets.max_rounds_per_day: 2 of 2");
  const absl::Status rule =
      absl::FailedPreconditionError("eligibility.require_ac_power: on battery");
  EXPECT_EQ(RefusalFor(budget), Refusal::kBudget);
  EXPECT_EQ(RefusalFor(rule), Refusal::kIneligible);
  EXPECT_EQ(RuleOf(budget), "budgets.max_rounds_per_day");
  EXPECT_EQ(RuleOf(rule), "eligibility.require_ac_power");
}

TEST_F(WorkGateTest, EligibilityIsCheckedBeforeBudgets) {
  options_.eligibility.require_ac_power = true;
  options_.budgets.max_resident_mib = 1;
  auto power = std::make_unique<FakePowerProbe>();
  power->script.readings = {OnBattery(50), OnAc()};
  auto memory = std::make_unique<FakeMemoryProbe>();
  memory->script.readings = {int64_t{2} << 20};
  FakeMemoryProbe* m = memory.get();
  DeviceProbes probes;
  probes.power = std::move(power);
  Gate(std::move(probes), std::move(memory));
  EXPECT_EQ(gate_->Admit(20, 20, counters_).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m->script.reads, 0);
  const absl::Status memory_high = gate_->Admit(20, 20, counters_);
  EXPECT_EQ(memory_high.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(memory_high.message()),
              HasSubstr("budgets.max_resident_mib"));
}

// A device with nothing to train on does not check in, whatever the
// rules; the refusal names the examples.
TEST_F(WorkGateTest, NoExamplesIsRefusedBeforeAnyRule) {
  Gate();
  const absl::Status empty = gate_->Admit(0, 5, counters_);
  EXPECT_EQ(empty.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RuleOf(empty), "examples");
  EXPECT_EQ(RefusalFor(empty), Refusal::kIneligible);
  EXPECT_TRUE(gate_->Admit(1, 5, counters_).ok());
}

// During training the device rules are read at the first check and then at
// most every training_check_interval; a failure stays until the next round.
TEST_F(WorkGateTest, TrainingWatchReadsAtMostEveryIntervalAndLatches) {
  options_.eligibility.max_load_average = 1.0;
  options_.num_threads = 2;
  auto load = std::make_unique<FakeLoadProbe>();
  load->script.readings = {2.5, 3.5};
  FakeLoadProbe* l = load.get();
  DeviceProbes probes;
  probes.load = std::move(load);
  Gate(std::move(probes));
  const StopCheck stop = gate_->WatchTraining();
  EXPECT_FALSE(stop());  // 2.5: at most 1 + the agent's own 2 threads
  EXPECT_FALSE(stop());  // not read again yet
  EXPECT_EQ(l->script.reads, 1);
  clock_.Advance(options_.eligibility.training_check_interval);
  EXPECT_TRUE(stop());
  EXPECT_TRUE(stop());
  EXPECT_EQ(l->script.reads, 2);
  EXPECT_THAT(std::string(gate_->training_lost().message()),
              HasSubstr("eligibility.max_load_average: load average 3.5 "
                        "above 3"));
  gate_->WatchTraining();
  EXPECT_TRUE(gate_->training_lost().ok());
}

// ---------------------------------------------------------------------------
// The agent loop.

TEST_F(WorkGateTest, IneligibleDeviceChecksInOnlyOnceTheProbeChanges) {
  options_.max_rounds = 1;
  options_.eligibility.require_ac_power = true;
  auto power = std::make_unique<FakePowerProbe>();
  power->script.readings = {OnBattery(80), OnBattery(80), OnBattery(80),
                            OnAc(80)};
  // How many check-ins the coordinator had seen at each read.
  std::vector<size_t> check_ins_at_read;
  power->script.on_read = [&] {
    check_ins_at_read.push_back(state_->seen_check_ins.size());
  };
  DeviceProbes probes;
  probes.power = std::move(power);
  Gate(std::move(probes));
  state_->check_ins = {Assignment(1)};
  ASSERT_TRUE(Run().ok());
  // Three looks on battery without a check-in, one on AC power that checks
  // in, and the training watch's look after it.
  EXPECT_EQ(check_ins_at_read, (std::vector<size_t>{0, 0, 0, 0, 1}));
  EXPECT_EQ(state_->seen_check_ins.size(), 1u);
  EXPECT_EQ(state_->reports.size(), 1u);
  EXPECT_EQ(Refusals("ineligible"), 3);
  EXPECT_EQ(Refusals("budget"), 0);
}

TEST_F(WorkGateTest, EligibilityLostInTrainingAbandonsTheRoundUnreported) {
  options_.eligibility.max_temperature_c = 60;
  auto thermal = std::make_unique<FakeThermalProbe>();
  // Cool at check-in and at the first batch, hot at the third, cool again.
  thermal->script.readings = {
      std::optional<double>(50.0), std::optional<double>(50.0),
      std::optional<double>(75.0), std::optional<double>(50.0)};
  DeviceProbes probes;
  probes.thermal = std::move(thermal);
  Gate(std::move(probes));
  trainer_.batches = 5;
  trainer_.between_batches = [&](int) {
    clock_.Advance(options_.eligibility.training_check_interval / 2);
  };
  state_->check_ins = {Assignment(1),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(trainer_.calls.size(), 1u);
  EXPECT_EQ(trainer_.stopped, 1);
  EXPECT_TRUE(state_->reports.empty());
  EXPECT_EQ(state_->seen_check_ins.size(), 2u);  // checked in again, cool
  EXPECT_EQ(Refusals("ineligible"), 1);
  EXPECT_EQ(Rounds("abandoned"), 1);
  EXPECT_EQ(Rounds("accepted"), 0);
}

TEST_F(WorkGateTest, RoundsPerDaySpentStopsCheckInsUntilTheNextDay) {
  options_.max_rounds = 3;
  options_.budgets.max_rounds_per_day = 2;
  Gate();
  state_->check_ins = {Assignment(1), Assignment(2), Assignment(3)};
  absl::Status result;
  std::thread agent([&] { result = Run(); });
  const bool refused = WaitUntil([&] { return Refusals("budget") >= 3; });
  // The agent is refusing now and touches the fake no more; the counter it
  // incremented orders its check-ins before this read.
  const size_t checked_in_that_day = state_->seen_check_ins.size();
  clock_.Advance(absl::Hours(24));
  if (!refused) stop_.Notify();
  agent.join();
  ASSERT_TRUE(refused) << "the agent never refused for its budget";
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(checked_in_that_day, 2u);
  EXPECT_EQ(state_->seen_check_ins.size(), 3u);
  EXPECT_EQ(state_->reports.size(), 3u);
  EXPECT_EQ(Refusals("ineligible"), 0);
}

TEST_F(WorkGateTest, DownloadBudgetRefusesAModelTooBigForTheDay) {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name("w");
  t->add_shape(10000);
  model::SetFloatData(std::vector<float>(10000, 0.0f), t);
  state_->model_bytes = model::SerializeWeights(w);  // about 40 kB
  // Room for the check-ins' answers, not for the model.
  options_.budgets.max_download_bytes_per_day = 20000;
  Gate();
  state_->check_ins = {Assignment(1),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state_->fetches, 0);
  EXPECT_TRUE(trainer_.calls.empty());
  EXPECT_EQ(Refusals("budget"), 1);
  EXPECT_EQ(Refusals("model_download"), 0);
  EXPECT_EQ(Rounds("abandoned"), 1);
}

TEST_F(WorkGateTest, RoundTimeBudgetStopsTrainingAndReportsNothing) {
  options_.budgets.max_round_time = absl::Milliseconds(200);
  Gate();
  trainer_.batches = 2;
  // The first batch outlasts the round's budget.
  trainer_.between_batches = [this](int) {
    absl::SleepFor(trainer_.calls[0].deadline - absl::Now() +
                   absl::Milliseconds(1));
  };
  state_->check_ins = {Assignment(1),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(trainer_.calls.size(), 1u);
  EXPECT_LT(trainer_.calls[0].deadline, absl::InfiniteFuture());
  EXPECT_TRUE(state_->reports.empty());
  EXPECT_EQ(Refusals("budget"), 1);
  EXPECT_EQ(Refusals("deadline"), 0);  // the report deadline never passed
}

TEST_F(WorkGateTest, AnAcceptedRoundIsRecordedForTheRulesThatCountIt) {
  options_.max_rounds = 1;
  options_.eligibility.min_new_examples = 10;
  options_.budgets.max_rounds_per_day = 5;
  trainer_.examples = 40;
  Gate();
  state_->check_ins = {Assignment(1)};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 1u);
  auto eligibility = base::ReadFile(options_.state_dir + "/eligibility");
  ASSERT_TRUE(eligibility.ok()) << eligibility.status();
  auto counted = ParseStateValues(*eligibility, {"examples_at_last_round"});
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->at("examples_at_last_round"), 40);
  auto budgets = base::ReadFile(options_.state_dir + "/budgets");
  ASSERT_TRUE(budgets.ok()) << budgets.status();
  auto used = ParseStateValues(
      *budgets, {"day", "rounds", "uploaded_bytes", "downloaded_bytes"});
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(used->at("rounds"), 1);
  // Charged from the agent's counters: the report at least was sent.
  EXPECT_GE(used->at("uploaded_bytes"),
            static_cast<int64_t>(state_->reports[0].ByteSizeLong()));
}

}  // namespace
}  // namespace cohort::client
