#include "server/metrics/store_metrics.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/forwarding_store.h"
#include "tests/server/metrics/task_sample.h"

namespace cohort::server {
namespace {

using ::cohort::testing::SampleLabels;

// A directory store whose reads take 30 ms of the fake clock and whose
// LastRoundId fails as a database that went away does.
class SlowFlakyStore final : public testing::ForwardingStore {
 public:
  SlowFlakyStore(Store* inner, testing::FakeClock* clock)
      : ForwardingStore(inner), clock_(clock) {}
  absl::StatusOr<std::optional<ModelVersionRecord>> GetCurrent(
      const std::string& task) override {
    clock_->Advance(absl::Milliseconds(30));
    return ForwardingStore::GetCurrent(task);
  }
  absl::StatusOr<int64_t> LastRoundId(const std::string&) override {
    return absl::UnavailableError("connection refused");
  }

 private:
  testing::FakeClock* const clock_;
};

class StoreMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/store_metrics_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    directory_ = std::move(*DirectoryStore::Open(root_));
    store_ = std::make_unique<InstrumentedStore>(
        std::make_unique<SlowFlakyStore>(directory_.get(), &clock_), "t",
        registry_, &clock_);
  }

  std::optional<double> Value(const std::string& name, SampleLabels labels) {
    return TaskSample(registry_, name, std::move(labels));
  }

  std::string root_;
  testing::FakeClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<DirectoryStore> directory_;
  std::unique_ptr<InstrumentedStore> store_;
};

TEST_F(StoreMetricsTest, TimesEveryCallByOperation) {
  ASSERT_TRUE(store_->GetCurrent("t").ok());
  ASSERT_TRUE(store_->GetCurrent("t").ok());
  EXPECT_EQ(Value("cohort_store_operation_duration_seconds_count",
                  {{"operation", "get_current"}}),
            2);
  EXPECT_NEAR(*Value("cohort_store_operation_duration_seconds_sum",
                     {{"operation", "get_current"}}),
              0.060, 1e-9);
  // Both calls took 30 ms: in the 50 ms bucket, not the 25 ms one.
  EXPECT_EQ(Value("cohort_store_operation_duration_seconds_bucket",
                  {{"operation", "get_current"}, {"le", "0.025"}}),
            0);
  EXPECT_EQ(Value("cohort_store_operation_duration_seconds_bucket",
                  {{"operation", "get_current"}, {"le", "0.05"}}),
            2);
  // What the caller sees is the inner store's answer.
  EXPECT_EQ(*store_->GetCurrent("t"), std::nullopt);
}

TEST_F(StoreMetricsTest, CountsFaultsButNotAnswers) {
  EXPECT_EQ(store_->LastRoundId("t").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->LastRoundId("t").status().code(),
            absl::StatusCode::kUnavailable);
  // NOT_FOUND is the store's answer about a version, not a fault.
  EXPECT_EQ(store_->GetVersion("t", 7).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Value("cohort_store_errors_total",
                  {{"operation", "last_round_id"}, {"code", "unavailable"}}),
            2);
  EXPECT_EQ(Value("cohort_store_errors_total",
                  {{"operation", "get_version"}, {"code", "not_found"}}),
            std::nullopt);
  EXPECT_EQ(Value("cohort_store_operation_duration_seconds_count",
                  {{"operation", "get_version"}}),
            1);
}

}  // namespace
}  // namespace cohort::server
