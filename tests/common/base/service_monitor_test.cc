#include "common/base/service_monitor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_service_notifier.h"

namespace cohort::base {
namespace {

using testing::FakeServiceNotifier;
using ::testing::Each;
using ::testing::StartsWith;

ServiceMonitor::Probe Healthy() {
  return [] { return absl::OkStatus(); };
}

ServiceMonitor::Describe Says(std::string line) {
  return [line] { return line; };
}

TEST(ServiceMonitorTest, StartWithoutServiceManagerReturnsNull) {
  FakeServiceNotifier notifier(absl::Milliseconds(2), /*enabled=*/false);
  EXPECT_EQ(ServiceMonitor::Start(&notifier, Healthy(), Says("x")), nullptr);
  EXPECT_TRUE(notifier.messages().empty());
}

TEST(ServiceMonitorTest, HealthyProbePingsAtHalfTheWatchdogWithStatus) {
  FakeServiceNotifier notifier(absl::Milliseconds(4));
  auto monitor =
      ServiceMonitor::Start(&notifier, Healthy(), Says("round 7 selecting"));
  ASSERT_NE(monitor, nullptr);
  EXPECT_EQ(monitor->period(), absl::Milliseconds(2));
  ASSERT_TRUE(notifier.WaitForMessages(3));
  monitor.reset();
  EXPECT_THAT(notifier.messages(),
              Each(std::string("WATCHDOG=1\nSTATUS=round 7 selecting")));
}

TEST(ServiceMonitorTest, UnhealthyProbeSendsReasonAndNoPing) {
  FakeServiceNotifier notifier(absl::Milliseconds(2));
  auto monitor = ServiceMonitor::Start(
      &notifier, [] { return absl::DeadlineExceededError("commit stuck"); },
      Says("unused"));
  ASSERT_TRUE(notifier.WaitForMessages(3));
  monitor.reset();
  EXPECT_THAT(notifier.messages(),
              Each(std::string("STATUS=unhealthy: commit stuck")));
}

TEST(ServiceMonitorTest, PingsResumeWhenHealthReturns) {
  FakeServiceNotifier notifier(absl::Milliseconds(2));
  std::atomic<bool> healthy{false};
  auto monitor = ServiceMonitor::Start(
      &notifier,
      [&healthy] {
        return healthy ? absl::OkStatus() : absl::UnavailableError("down");
      },
      Says("ok"));
  ASSERT_TRUE(notifier.WaitForMessages(2));
  healthy = true;
  // The probe in progress when the flag flipped may still report "down";
  // the one after it cannot.
  const size_t flipped = notifier.messages().size();
  ASSERT_TRUE(notifier.WaitForMessages(flipped + 2));
  monitor.reset();
  const std::vector<std::string> sent = notifier.messages();
  EXPECT_EQ(sent[0], "STATUS=unhealthy: down");
  EXPECT_EQ(sent[flipped + 1], "WATCHDOG=1\nSTATUS=ok");
}

TEST(ServiceMonitorTest, WithoutWatchdogSendsStatusOnly) {
  FakeServiceNotifier notifier(absl::ZeroDuration());
  auto monitor = ServiceMonitor::Start(&notifier, Healthy(), Says("idle"),
                                       /*status_period=*/absl::Milliseconds(1));
  EXPECT_EQ(monitor->period(), absl::Milliseconds(1));
  ASSERT_TRUE(notifier.WaitForMessages(3));
  monitor.reset();
  EXPECT_THAT(notifier.messages(), Each(std::string("STATUS=idle")));
}

TEST(ServiceMonitorTest, BlockedProbeSendsNothingUntilItReturns) {
  FakeServiceNotifier notifier(absl::Milliseconds(2));
  std::atomic<int> calls{0};
  absl::Notification second_probe, release;
  auto monitor = ServiceMonitor::Start(
      &notifier,
      [&] {
        if (++calls == 2) {
          second_probe.Notify();
          release.WaitForNotification();  // a lock nobody releases
        }
        return absl::OkStatus();
      },
      Says("ok"));
  second_probe.WaitForNotification();
  EXPECT_EQ(notifier.messages().size(), 1u);
  release.Notify();
  ASSERT_TRUE(notifier.WaitForMessages(2));
  monitor.reset();
  EXPECT_THAT(notifier.messages(), Each(StartsWith("WATCHDOG=1\n")));
}

}  // namespace
}  // namespace cohort::base
