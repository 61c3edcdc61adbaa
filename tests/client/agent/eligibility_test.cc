// When the device may work: each eligibility rule passing, failing with its
// named reason, and passing on what the device does not have; the examples
// count across restarts and bad state files; the config.

#include "client/agent/eligibility.h"
#include "tests/client/agent/agent_fixture.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "client/agent/agent_options.h"
#include "client/agent/device_probes.h"
#include "cohort/v1/config.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_tree.h"
#include "tests/client/agent/fake_probes.h"
#include "tests/testing/fake_clock.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh directory per test.
std::string TestDir() { return testing::FreshTestDir("eligibility"); }

void Put(const std::string& path, const std::string& contents) {
  testing::PutFile(path, contents);
}

// ---------------------------------------------------------------------------
// The policy, on fake probes and a fake clock.

class EligibilityTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TestDir(); }

  // A policy over the fakes below (moved into it), at local `minute`.
  std::unique_ptr<EligibilityPolicy> Policy(int minute = 12 * 60) {
    clock_ = std::make_unique<testing::FakeClock>(absl::FromCivil(
        absl::CivilSecond(2024, 3, 1, minute / 60, minute % 60, 0), zone_));
    DeviceProbes probes;
    auto power = std::make_unique<FakePowerProbe>();
    auto load = std::make_unique<FakeLoadProbe>();
    auto thermal = std::make_unique<FakeThermalProbe>();
    power->script = power_;
    load->script = load_;
    thermal->script = thermal_;
    power_probe_ = power.get();
    load_probe_ = load.get();
    thermal_probe_ = thermal.get();
    probes.power = std::move(power);
    probes.load = std::move(load);
    probes.thermal = std::move(thermal);
    return std::make_unique<EligibilityPolicy>(options_, std::move(probes),
                                               clock_.get(), zone_, dir_);
  }

  std::string dir_;
  // Not UTC, so that a policy reading the wrong zone is caught.
  const absl::TimeZone zone_ = absl::FixedTimeZone(2 * 60 * 60);
  EligibilityOptions options_;
  Script<absl::StatusOr<PowerState>> power_{{OnAc()}};
  Script<absl::StatusOr<double>> load_{{0.0}};
  Script<absl::StatusOr<std::optional<double>>> thermal_{
      {std::optional<double>(20.0)}};
  std::unique_ptr<testing::FakeClock> clock_;
  FakePowerProbe* power_probe_ = nullptr;
  FakeLoadProbe* load_probe_ = nullptr;
  FakeThermalProbe* thermal_probe_ = nullptr;
};

TEST_F(EligibilityTest, DefaultsAdmitAnythingAndReadNothing) {
  power_.readings = {OnBattery(1)};
  load_.readings = {99.0};
  thermal_.readings = {std::optional<double>(120.0)};
  auto policy = Policy(3 * 60);
  EXPECT_FALSE(policy->has_device_rules());
  EXPECT_TRUE(policy->Check(0).ok());
  EXPECT_EQ(power_probe_->script.reads, 0);
  EXPECT_EQ(load_probe_->script.reads, 0);
  EXPECT_EQ(thermal_probe_->script.reads, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/eligibility"));
}

TEST_F(EligibilityTest, RequireAcPowerRefusesOnBattery) {
  options_.require_ac_power = true;
  power_.readings = {OnBattery(90), OnAc(90)};
  auto policy = Policy();
  const absl::Status on_battery = policy->Check(10);
  EXPECT_EQ(on_battery.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(on_battery.message(), "eligibility.require_ac_power: on battery");
  EXPECT_TRUE(policy->Check(10).ok());
}

TEST_F(EligibilityTest, RequireAcPowerPassesOnADesktopWithoutSupplies) {
  options_.require_ac_power = true;
  options_.min_battery_percent = 50;
  DeviceProbes probes;
  probes.power = std::make_unique<SysfsPowerProbe>(dir_);  // empty tree
  testing::FakeClock clock;
  EligibilityPolicy policy(options_, std::move(probes), &clock, zone_, dir_);
  EXPECT_TRUE(policy.Check(10).ok());
}

TEST_F(EligibilityTest, MinBatteryPercentRefusesBelowAndPassesAtOrUnknown) {
  options_.min_battery_percent = 50;
  power_.readings = {OnBattery(30), OnAc(49), OnBattery(50), OnAc()};
  auto policy = Policy();
  const absl::Status low = policy->Check(10);
  EXPECT_EQ(low.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(low.message(),
            "eligibility.min_battery_percent: battery at 30%, below 50%");
  // On AC too: a nearly empty battery charges first.
  EXPECT_THAT(policy->Check(10).message(), HasSubstr("battery at 49%"));
  EXPECT_TRUE(policy->Check(10).ok());
  EXPECT_TRUE(policy->Check(10).ok());  // no battery: passes
}

TEST_F(EligibilityTest, AProbeErrorFailsItsRule) {
  options_.require_ac_power = true;
  power_.readings = {absl::InternalError("read /sys/...: EIO")};
  auto policy = Policy();
  const absl::Status s = policy->Check(10);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), StartsWith("eligibility.require_ac_power: cannot "
                                      "read the power supply"));
}

TEST_F(EligibilityTest, MaxLoadAverageRefusesAboveAndAllowsOwnThreads) {
  options_.max_load_average = 2.0;
  load_.readings = {3.2};
  auto policy = Policy();
  const absl::Status busy = policy->Check(10);
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(busy.message(),
            "eligibility.max_load_average: load average 3.2 above 2");
  // While training on two threads the limit is 4.
  EXPECT_TRUE(policy->CheckDevice(2).ok());
  EXPECT_FALSE(policy->CheckDevice(1).ok());
}

TEST_F(EligibilityTest, MaxTemperatureRefusesAboveAndPassesWithoutZones) {
  options_.max_temperature_c = 60;
  thermal_.readings = {std::optional<double>(75.5),
                       std::optional<double>(60.0), std::optional<double>()};
  auto policy = Policy();
  const absl::Status hot = policy->Check(10);
  EXPECT_EQ(hot.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(hot.message(),
            "eligibility.max_temperature_c: hottest thermal zone at 75.5 C, "
            "above 60 C");
  EXPECT_TRUE(policy->Check(10).ok());  // at the limit
  EXPECT_TRUE(policy->Check(10).ok());  // no zone: cannot be checked
  EXPECT_EQ(thermal_probe_->script.reads, 3);
}

TEST_F(EligibilityTest, DaytimeWindowHoldsInsideOnlyInLocalTime) {
  options_.window_start_minute = 9 * 60;
  options_.window_end_minute = 17 * 60;
  EXPECT_TRUE(Policy(9 * 60)->Check(10).ok());
  EXPECT_TRUE(Policy(16 * 60 + 59)->Check(10).ok());
  const absl::Status after = Policy(17 * 60)->Check(10);
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(after.message(),
            "eligibility.window_start_minute: local time 17:00 is outside "
            "the window 09:00-17:00");
  EXPECT_FALSE(Policy(8 * 60 + 59)->Check(10).ok());
}

TEST_F(EligibilityTest, WindowWrapsPastMidnight) {
  options_.window_start_minute = 22 * 60;
  options_.window_end_minute = 6 * 60;
  EXPECT_TRUE(Policy(22 * 60)->Check(10).ok());
  EXPECT_TRUE(Policy(23 * 60 + 30)->Check(10).ok());
  EXPECT_TRUE(Policy(0)->Check(10).ok());
  EXPECT_TRUE(Policy(5 * 60 + 59)->Check(10).ok());
  EXPECT_THAT(Policy(6 * 60)->Check(10).message(),
              HasSubstr("local time 06:00 is outside the window 22:00-06:00"));
  EXPECT_FALSE(Policy(12 * 60)->Check(10).ok());
  EXPECT_FALSE(Policy(21 * 60 + 59)->Check(10).ok());
}

// A wrapping window is the complement of the plain one between the same
// minutes, for every minute of the day and several pairs.
TEST(InWindowTest, WrappingWindowIsTheComplementOfThePlainOne) {
  for (const auto& [a, b] : {std::pair{0, 1}, std::pair{60, 1380},
                             std::pair{359, 360}, std::pair{1, 1439}}) {
    for (int minute = 0; minute < 1440; ++minute) {
      EXPECT_NE(InWindow(minute, a, b), InWindow(minute, b, a))
          << a << "-" << b << " at " << minute;
    }
  }
  EXPECT_TRUE(InWindow(700, 480, 480));  // no window
}

TEST_F(EligibilityTest, MinNewExamplesCountsFromTheLastAcceptedRound) {
  options_.min_new_examples = 50;
  auto policy = Policy();
  EXPECT_TRUE(policy->Check(100).ok());  // never trained: all are new
  policy->RoundAccepted(100);
  const absl::Status few = policy->Check(120);
  EXPECT_EQ(few.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(few.message()),
              StartsWith("eligibility.min_new_examples: 20 new examples"));
  EXPECT_TRUE(policy->Check(150).ok());
  // Fewer added in all than at the last round: a new store, all new.
  EXPECT_FALSE(policy->Check(30).ok());
  EXPECT_TRUE(policy->Check(60).ok());
}

TEST_F(EligibilityTest, MinNewExamplesSurvivesARestart) {
  options_.min_new_examples = 50;
  Policy()->RoundAccepted(100);
  auto restarted = Policy();
  EXPECT_EQ(restarted->examples_at_last_round(), 100);
  EXPECT_FALSE(restarted->Check(120).ok());
}

TEST_F(EligibilityTest, CorruptStateIsMovedAsideAndCountsFromZero) {
  options_.min_new_examples = 50;
  Put(dir_ + "/eligibility", "examples_at_last_round 12x\n");
  auto policy = Policy();
  EXPECT_EQ(policy->examples_at_last_round(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/eligibility.corrupt"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/eligibility"));
  EXPECT_TRUE(policy->Check(60).ok());
}

TEST_F(EligibilityTest, TruncatedStateIsMovedAside) {
  options_.min_new_examples = 50;
  Put(dir_ + "/eligibility", "# cohort-agent: examples held at the la");
  auto policy = Policy();
  EXPECT_EQ(policy->examples_at_last_round(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/eligibility.corrupt"));
}

TEST_F(EligibilityTest, AnUnwritableStateDirKeepsTheCountInMemory) {
  options_.min_new_examples = 50;
  Put(dir_ + "/blocker", "a file where the state folder would go\n");
  dir_ += "/blocker/state";  // cannot be created: every save fails
  auto policy = Policy();
  policy->RoundAccepted(100);
  policy->RoundAccepted(100);  // logged once, never fatal
  EXPECT_EQ(policy->examples_at_last_round(), 100);
  EXPECT_FALSE(policy->Check(120).ok());
}

// ---------------------------------------------------------------------------
// The config.

TEST(EligibilityConfigTest, IsOffByDefaultAndResolvesEveryRule) {
  auto off = ResolveAgentOptions(MinimalAgentConfig());
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->eligibility.require_ac_power);
  EXPECT_EQ(off->eligibility.window_start_minute,
            off->eligibility.window_end_minute);
  EXPECT_EQ(off->eligibility.recheck_interval, absl::Seconds(60));
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  cohort::v1::EligibilityConfig* e = c.mutable_eligibility();
  e->set_require_ac_power(true);
  e->set_min_battery_percent(40);
  e->set_window_start_minute(1320);
  e->set_window_end_minute(360);
  e->set_recheck_interval_ms(2500);
  auto on = ResolveAgentOptions(c);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->eligibility.require_ac_power);
  EXPECT_EQ(on->eligibility.min_battery_percent, 40);
  EXPECT_EQ(on->eligibility.window_start_minute, 1320);
  EXPECT_EQ(on->eligibility.window_end_minute, 360);
  EXPECT_EQ(on->eligibility.recheck_interval, absl::Milliseconds(2500));
}

TEST(EligibilityConfigTest, BadValuesAreRefusedNamingTheField) {
  using E = cohort::v1::EligibilityConfig;
  const std::pair<std::function<void(E*)>, const char*> cases[] = {
      {[](E* e) { e->set_min_battery_percent(101); },
       "eligibility.min_battery_percent"},
      {[](E* e) { e->set_max_load_average(-0.5); },
       "eligibility.max_load_average"},
      {[](E* e) { e->set_window_start_minute(1440); },
       "eligibility.window_start_minute"},
      {[](E* e) {
         e->set_window_start_minute(600);
         e->set_window_end_minute(600);
       },
       "eligibility.window_end_minute"},
      {[](E* e) { e->set_min_new_examples(-1); },
       "eligibility.min_new_examples"},
      // The Fashion-MNIST shard never gains an example.
      {[](E* e) { e->set_min_new_examples(100); },
       "eligibility.min_new_examples: needs example_store.path"},
  };
  for (const auto& [set, field] : cases) {
    cohort::v1::AgentConfig c = MinimalAgentConfig();
    set(c.mutable_eligibility());
    const absl::Status s = ResolveAgentOptions(c).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(std::string(s.message()), StartsWith(field)) << s;
  }
  // With an example store the rule is accepted.
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  c.mutable_eligibility()->set_min_new_examples(100);
  c.mutable_example_store()->set_path("/var/lib/cohort-agent/examples.db");
  absl::StatusOr<AgentOptions> o = ResolveAgentOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->eligibility.min_new_examples, 100);
}

}  // namespace
}  // namespace cohort::client
