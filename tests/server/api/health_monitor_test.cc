#include "server/api/health_monitor.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

struct Published {
  bool serving;
  absl::StatusCode why;
};

class HealthMonitorTest : public ::testing::Test {
 protected:
  HealthMonitor::Probe Probe() {
    return [this] {
      absl::MutexLock lock(&mu_);
      ++probes_;
      return store_;
    };
  }
  HealthMonitor::Publish Publish() {
    return [this](bool serving, const absl::Status& why) {
      absl::MutexLock lock(&mu_);
      published_.push_back({serving, why.code()});
    };
  }
  void SetStore(absl::Status s) {
    absl::MutexLock lock(&mu_);
    store_ = std::move(s);
  }
  std::vector<Published> Seen() {
    absl::MutexLock lock(&mu_);
    return published_;
  }

  absl::Mutex mu_;
  absl::Status store_;
  int probes_ = 0;
  std::vector<Published> published_;
};

TEST_F(HealthMonitorTest, PublishesOnlyChangesWithTheProbesReason) {
  HealthMonitor monitor(Probe(), Publish(), absl::Hours(1));
  EXPECT_TRUE(monitor.CheckNow());
  EXPECT_TRUE(monitor.CheckNow());
  SetStore(absl::UnavailableError("database down"));
  EXPECT_FALSE(monitor.CheckNow());
  EXPECT_FALSE(monitor.CheckNow());
  SetStore(absl::OkStatus());
  EXPECT_TRUE(monitor.CheckNow());
  const std::vector<Published> seen = Seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].serving);
  EXPECT_FALSE(seen[1].serving);
  EXPECT_EQ(seen[1].why, absl::StatusCode::kUnavailable);
  EXPECT_TRUE(seen[2].serving);
}

TEST_F(HealthMonitorTest, TheThreadFollowsTheStoreAndStopsWithTheMonitor) {
  SetStore(absl::UnavailableError("database down"));
  {
    HealthMonitor monitor(Probe(), Publish(), absl::Milliseconds(5));
    monitor.Start();
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (Seen().empty() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    SetStore(absl::OkStatus());
    while (Seen().size() < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  const std::vector<Published> seen = Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].serving);
  EXPECT_TRUE(seen[1].serving);
  const int probes = [&] {
    absl::MutexLock lock(&mu_);
    return probes_;
  }();
  absl::SleepFor(absl::Milliseconds(50));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(probes_, probes);  // no probe after destruction
}

}  // namespace
}  // namespace cohort::server
