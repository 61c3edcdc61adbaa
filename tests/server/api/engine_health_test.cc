#include "server/api/engine_health.h"

#include <atomic>
#include <filesystem>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_service_notifier.h"
#include "tests/testing/fake_task_model.h"
#include "tests/testing/forwarding_store.h"

namespace cohort::server {
namespace {

using ::testing::HasSubstr;

// A store whose commits wait, once armed, until the test releases them: a
// database that stopped answering in the middle of a transaction.
class StallingStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::Status CommitVersion(const ModelVersionRecord& r) override {
    if (armed) {
      entered.Notify();
      release.WaitForNotification();
    }
    return ForwardingStore::CommitVersion(r);
  }
  std::atomic<bool> armed{false};
  absl::Notification entered, release;
};

class EngineHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root =
        ::testing::TempDir() + "/engine_health_" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root);
    directory_ = std::move(*DirectoryStore::Open(root));
    store_ = std::make_unique<StallingStore>(directory_.get());
    RoundOptions options;
    options.task = "t";
    options.goal_count = 1;
    options.min_reports = 1;
    engine_ = std::make_unique<RoundEngine>(options, store_.get(), &model_,
                                            &clock_);
    ASSERT_TRUE(engine_->Start().ok());
  }

  // One device checks in and reports; the next RunOnce commits. Returns the
  // round's id.
  int64_t ReportOnce() {
    auto out = engine_->CheckIn("d1");
    const auto& assignment = std::get<cohort::v1::TaskAssignment>(out);
    cohort::v1::Report report;
    report.set_round_id(assignment.round_id());
    *report.mutable_delta() = model_.Filled(0.5f);
    report.set_num_examples(10);
    report.set_train_loss(1.0);
    EXPECT_TRUE(engine_->SubmitReport("d1", report).ok());
    return assignment.round_id();
  }

  std::unique_ptr<DirectoryStore> directory_;
  std::unique_ptr<StallingStore> store_;
  testing::FakeTaskModel model_;
  testing::FakeClock clock_;
  std::unique_ptr<RoundEngine> engine_;
};

TEST_F(EngineHealthTest, CheckSelectingIsOkHoweverLong) {
  EngineHealth health(engine_.get(), &clock_, absl::Minutes(10));
  EXPECT_TRUE(health.Check().ok());
  clock_.Advance(absl::Hours(48));  // no devices for two days: not a hang
  EXPECT_TRUE(health.Check().ok());
  EXPECT_EQ(health.Describe(),
            "task t: round 1 selecting; version 1; 0 rounds committed");
}

TEST_F(EngineHealthTest, CheckStalledCommitIsDeadlineExceededUntilItEnds) {
  EngineHealth health(engine_.get(), &clock_, absl::Minutes(10));
  const int64_t round = ReportOnce();
  store_->armed = true;
  std::thread driver([this] { engine_->RunOnce(); });
  store_->entered.WaitForNotification();
  ASSERT_EQ(engine_->phase(), RoundPhase::kCommitting);

  EXPECT_TRUE(health.Check().ok());  // the commit starts now, as far as seen
  EXPECT_THAT(health.Describe(), HasSubstr("committing"));
  clock_.Advance(absl::Minutes(10));
  EXPECT_TRUE(health.Check().ok());
  clock_.Advance(absl::Seconds(1));
  absl::Status stalled = health.Check();
  EXPECT_EQ(stalled.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(stalled.message(),
              HasSubstr(absl::StrCat("the commit of round ", round)));

  store_->release.Notify();
  driver.join();
  EXPECT_TRUE(health.Check().ok());
  EXPECT_EQ(engine_->rounds_committed(), 1);
  EXPECT_THAT(health.Describe(), HasSubstr("version 2; 1 rounds committed"));
}

TEST_F(EngineHealthTest, DescribeSaysPaused) {
  EngineHealth health(engine_.get(), &clock_);
  engine_->SetPaused(true, "maintenance", "operator");
  EXPECT_THAT(health.Describe(), HasSubstr("; paused"));
}

TEST_F(EngineHealthTest, NotifyServingSendsReadyThenWatchdogStatus) {
  testing::FakeServiceNotifier notifier(absl::Milliseconds(2));
  auto monitor = NotifyServing(notifier, *engine_, 4242, &clock_);
  ASSERT_NE(monitor, nullptr);
  ASSERT_TRUE(notifier.WaitForMessages(2));
  monitor.reset();
  const std::vector<std::string> sent = notifier.messages();
  EXPECT_EQ(sent[0], "READY=1\nSTATUS=serving task t on port 4242; version 1");
  EXPECT_EQ(sent[1],
            "WATCHDOG=1\nSTATUS=task t: round 1 selecting; version 1; "
            "0 rounds committed");
}

TEST_F(EngineHealthTest, NotifyServingWithoutServiceManagerStartsNoMonitor) {
  testing::FakeServiceNotifier notifier(absl::Milliseconds(2),
                                        /*enabled=*/false);
  EXPECT_EQ(NotifyServing(notifier, *engine_, 4242, &clock_), nullptr);
}

}  // namespace
}  // namespace cohort::server
