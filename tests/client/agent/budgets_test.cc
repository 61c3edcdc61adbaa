// What the agent may use: each cap refusing with its name, usage starting
// again at local midnight, usage surviving a restart, and a corrupt or
// unwritable usage file costing nothing but the count.

#include "client/agent/budgets.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "client/agent/agent_options.h"
#include "client/agent/device_probes.h"
#include "client/agent/state_file.h"
#include "cohort/v1/config.pb.h"
#include "common/base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/fake_probes.h"
#include "tests/testing/fake_clock.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMiB = int64_t{1} << 20;

class BudgetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/budgets_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  // Budgets on the shared fake clock and memory readings.
  std::unique_ptr<Budgets> Open() {
    auto memory = std::make_unique<FakeMemoryProbe>();
    memory->script = memory_;
    memory_probe_ = memory.get();
    return std::make_unique<Budgets>(options_, dir_, std::move(memory),
                                     &clock_, zone_);
  }

  // The usage file's values; empty when it is missing or unparseable.
  StateValues Saved() {
    auto text = base::ReadFile(dir_ + "/budgets");
    if (!text.ok()) return {};
    auto values = ParseStateValues(
        *text, {"day", "rounds", "uploaded_bytes", "downloaded_bytes"});
    return values.ok() ? *values : StateValues{};
  }

  std::string dir_;
  BudgetOptions options_;
  // Two hours east of UTC, so that a day cut at UTC midnight is caught.
  const absl::TimeZone zone_ = absl::FixedTimeZone(2 * 60 * 60);
  // 23:30 local time on 1 March 2024.
  testing::FakeClock clock_{
      absl::FromCivil(absl::CivilSecond(2024, 3, 1, 23, 30, 0), zone_)};
  Script<absl::StatusOr<int64_t>> memory_{{int64_t{100} * kMiB}};
  FakeMemoryProbe* memory_probe_ = nullptr;
};

TEST_F(BudgetsTest, NoCapsAdmitEverythingAndSaveNothing) {
  auto budgets = Open();
  budgets->CountTraffic({int64_t{1} << 40, int64_t{1} << 40});
  for (int i = 0; i < 100; ++i) budgets->RoundReported();
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());
  EXPECT_TRUE(budgets->CheckDownload(int64_t{1} << 40).ok());
  EXPECT_EQ(memory_probe_->script.reads, 0);
  budgets.reset();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/budgets"));
}

TEST_F(BudgetsTest, RoundsPerDayRefuseOnceSpentUntilLocalMidnight) {
  options_.max_rounds_per_day = 2;
  auto budgets = Open();
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());
  budgets->RoundReported();
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());
  budgets->RoundReported();
  const absl::Status spent = budgets->CheckBeforeRound();
  EXPECT_EQ(spent.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(spent.message(),
            "budgets.max_rounds_per_day: 2 of 2 rounds used today");
  clock_.Advance(absl::Minutes(29));  // 23:59 local: still 1 March
  EXPECT_FALSE(budgets->CheckBeforeRound().ok());
  // Local midnight, 22:00 UTC: a day cut in UTC would still refuse here.
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());
  EXPECT_EQ(budgets->usage().day, absl::CivilDay(2024, 3, 2));
  EXPECT_EQ(budgets->usage().rounds, 0);
}

TEST_F(BudgetsTest, UploadCapCountsTrafficDeltasOnce) {
  options_.max_upload_bytes_per_day = 1000;
  auto budgets = Open();
  budgets->CountTraffic({600, 5});
  budgets->CountTraffic({999, 5});  // totals: 399 more, not 999
  EXPECT_EQ(budgets->usage().uploaded_bytes, 999);
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());
  budgets->CountTraffic({1000, 5});
  const absl::Status spent = budgets->CheckBeforeRound();
  EXPECT_EQ(spent.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(spent.message(),
            "budgets.max_upload_bytes_per_day: 1000 of 1000 bytes sent today");
}

TEST_F(BudgetsTest, DownloadCapRefusesAModelThatWouldPassIt) {
  options_.max_download_bytes_per_day = 1000;
  auto budgets = Open();
  budgets->CountTraffic({10, 600});
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());
  EXPECT_TRUE(budgets->CheckDownload(400).ok());
  const absl::Status too_big = budgets->CheckDownload(401);
  EXPECT_EQ(too_big.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(too_big.message()),
              HasSubstr("budgets.max_download_bytes_per_day: a 401-byte "
                        "model would take today's 600 received bytes past "
                        "1000"));
  budgets->CountTraffic({10, 1000});
  EXPECT_THAT(budgets->CheckBeforeRound().message(),
              HasSubstr("1000 of 1000 bytes received today"));
}

TEST_F(BudgetsTest, ResidentMemoryAboveTheCapRefusesNewWork) {
  options_.max_resident_mib = 256;
  memory_.readings = {int64_t{300} * kMiB, int64_t{256} * kMiB,
                      absl::NotFoundError("no VmRSS")};
  auto budgets = Open();
  const absl::Status high = budgets->CheckBeforeRound();
  EXPECT_EQ(high.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(high.message(),
            "budgets.max_resident_mib: resident memory 300 MiB, above 256 "
            "MiB");
  EXPECT_TRUE(budgets->CheckBeforeRound().ok());  // at the cap
  EXPECT_THAT(budgets->CheckBeforeRound().message(),
              HasSubstr("budgets.max_resident_mib: cannot read"));
}

TEST_F(BudgetsTest, UsageSurvivesARestartTheSameDayOnly) {
  options_.max_rounds_per_day = 5;
  options_.max_upload_bytes_per_day = 1 << 20;
  {
    auto budgets = Open();
    budgets->CountTraffic({123, 45});
    budgets->RoundReported();
    budgets->RoundReported();
  }
  auto restarted = Open();
  EXPECT_EQ(restarted->usage().rounds, 2);
  EXPECT_EQ(restarted->usage().uploaded_bytes, 123);
  EXPECT_EQ(restarted->usage().downloaded_bytes, 45);
  restarted.reset();
  clock_.Advance(absl::Hours(1));  // 00:30 the next day
  auto next_day = Open();
  EXPECT_EQ(next_day->usage().rounds, 0);
  EXPECT_EQ(next_day->usage().uploaded_bytes, 0);
}

TEST_F(BudgetsTest, TrafficAloneIsSavedAtMostOnceAMinute) {
  options_.max_upload_bytes_per_day = 1 << 20;
  auto budgets = Open();
  budgets->CountTraffic({100, 0});
  EXPECT_EQ(Saved()["uploaded_bytes"], 100);
  budgets->CountTraffic({200, 0});
  EXPECT_EQ(Saved()["uploaded_bytes"], 100);
  clock_.Advance(Budgets::kTrafficSaveInterval);
  budgets->CountTraffic({300, 0});
  EXPECT_EQ(Saved()["uploaded_bytes"], 300);
  budgets->CountTraffic({400, 0});
  budgets.reset();  // the rest is saved on the way out
  EXPECT_EQ(Saved()["uploaded_bytes"], 400);
}

TEST_F(BudgetsTest, CorruptFileIsMovedAsideAndUsageStartsFromZero) {
  options_.max_rounds_per_day = 3;
  std::ofstream(dir_ + "/budgets") << "day 20240301\nrounds banana\n";
  auto budgets = Open();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/budgets.corrupt"));
  EXPECT_EQ(budgets->usage().rounds, 0);
  budgets->RoundReported();
  EXPECT_EQ(Saved()["rounds"], 1);  // a good file again
  EXPECT_EQ(Saved()["day"], 20240301);
}

TEST_F(BudgetsTest, TruncatedOrImpossibleFilesAreMovedAside) {
  options_.max_rounds_per_day = 3;
  for (const char* text :
       {"# cohort-agent: budget usage of one local day\nday 20240301\nrou",
        "day 20241341\nrounds 3\nuploaded_bytes 0\ndownloaded_bytes 0\n",
        "\x01\x02\x03"}) {
    std::filesystem::remove(dir_ + "/budgets.corrupt");
    std::ofstream(dir_ + "/budgets") << text;
    auto budgets = Open();
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/budgets.corrupt")) << text;
    EXPECT_EQ(budgets->usage().rounds, 0) << text;
  }
}

TEST_F(BudgetsTest, AnUnwritableStateDirKeepsUsageInMemory) {
  options_.max_rounds_per_day = 2;
  std::ofstream(dir_ + "/blocker") << "a file where the state folder goes";
  dir_ += "/blocker/state";  // cannot be created: every save fails
  auto budgets = Open();
  budgets->RoundReported();
  budgets->RoundReported();  // logged once, never fatal
  EXPECT_EQ(budgets->CheckBeforeRound().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(BudgetConfigTest, ThreadCapLowersNumThreadsAndCapsResolve) {
  cohort::v1::AgentConfig c;
  c.set_device_id("d1");
  c.mutable_tls()->set_ca_cert_path("ca.pem");
  c.set_num_threads(8);
  c.mutable_budgets()->set_max_training_threads(2);
  c.mutable_budgets()->set_max_round_time_ms(600000);
  c.mutable_budgets()->set_max_rounds_per_day(24);
  auto o = ResolveAgentOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->num_threads, 2);
  EXPECT_EQ(o->budgets.max_training_threads, 2);
  EXPECT_EQ(o->budgets.max_round_time, absl::Minutes(10));
  EXPECT_EQ(o->budgets.max_rounds_per_day, 24);
  c.mutable_budgets()->set_max_upload_bytes_per_day(-1);
  const absl::Status s = ResolveAgentOptions(c).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("budgets.max_upload_bytes_per_day"));
}

TEST(BudgetConfigTest, OffByDefault) {
  cohort::v1::AgentConfig c;
  c.set_device_id("d1");
  c.mutable_tls()->set_ca_cert_path("ca.pem");
  auto o = ResolveAgentOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->budgets.has_daily_caps());
  EXPECT_EQ(o->budgets.max_round_time, absl::InfiniteDuration());
  EXPECT_EQ(o->budgets.max_resident_mib, 0);
}

TEST(DayNumberTest, IsYearMonthDay) {
  EXPECT_EQ(DayNumber(absl::CivilDay(2024, 1, 31)), 20240131);
  EXPECT_EQ(DayNumber(absl::CivilDay(1999, 12, 1)), 19991201);
}

}  // namespace
}  // namespace cohort::client
