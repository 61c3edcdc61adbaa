// SystemdNotifier against a real datagram socket: the test plays systemd,
// so what is checked is what libsystemd's sd_notify actually sends.

#include "common/base/service_notify.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/service_monitor.h"
#include "gtest/gtest.h"

namespace cohort::base {
namespace {

// Sets (or, with nullopt, unsets) an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value.has_value()) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The service manager's end: a Unix datagram socket bound to a fresh path,
// named by NOTIFY_SOCKET while it lives.
class NotifySocket {
 public:
  NotifySocket()
      : path_(absl::StrCat(::testing::TempDir(), "/notify-", ::getpid(),
                           ".sock")) {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && path_.size() < sizeof(addr.sun_path) &&
             ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    env_.emplace("NOTIFY_SOCKET", path_);
  }
  ~NotifySocket() {
    env_.reset();
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }

  // The next message, or "<nothing>" after 30 s.
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 30000) != 1) return "<nothing>";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::optional<ScopedEnv> env_;
};

TEST(ServiceNotifyTest, MessagesJoinAssignmentsAndFlattenStatus) {
  EXPECT_EQ(ReadyMessage("serving"), "READY=1\nSTATUS=serving");
  EXPECT_EQ(StoppingMessage("bye"), "STOPPING=1\nSTATUS=bye");
  EXPECT_EQ(WatchdogMessage("round 3"), "WATCHDOG=1\nSTATUS=round 3");
  // A newline would smuggle in another assignment.
  EXPECT_EQ(StatusMessage("a\nREADY=1\r"), "STATUS=a READY=1 ");
}

TEST(SystemdNotifierTest, NotifyWithoutNotifySocketIsDisabledNoOp) {
  ScopedEnv socket("NOTIFY_SOCKET", std::nullopt);
  ScopedEnv usec("WATCHDOG_USEC", "1000000");
  ScopedEnv pid("WATCHDOG_PID", absl::StrCat(::getpid()));
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  EXPECT_TRUE(notifier.Notify(ReadyMessage("x")).ok());
  EXPECT_EQ(notifier.WatchdogTimeout(), absl::ZeroDuration());
}

TEST(SystemdNotifierTest, NotifySendsAssignmentsAsOneDatagram) {
  NotifySocket manager;
  ASSERT_TRUE(manager.bound());
  SystemdNotifier notifier;
  EXPECT_TRUE(notifier.enabled());
  NotifyReady(notifier, "serving task t on port 5");
  EXPECT_EQ(manager.Receive(), "READY=1\nSTATUS=serving task t on port 5");
  NotifyStopping(notifier, "stopping");
  EXPECT_EQ(manager.Receive(), "STOPPING=1\nSTATUS=stopping");
}

TEST(SystemdNotifierTest, WatchdogTimeoutOnlyForThisPid) {
  NotifySocket manager;
  ScopedEnv usec("WATCHDOG_USEC", "2500000");
  {
    ScopedEnv pid("WATCHDOG_PID", absl::StrCat(::getpid()));
    EXPECT_EQ(SystemdNotifier().WatchdogTimeout(), absl::Milliseconds(2500));
  }
  {
    // Inherited from a parent that systemd watches: not ours.
    ScopedEnv pid("WATCHDOG_PID", absl::StrCat(::getpid() + 1));
    EXPECT_EQ(SystemdNotifier().WatchdogTimeout(), absl::ZeroDuration());
  }
  ScopedEnv pid("WATCHDOG_PID", std::nullopt);
  ScopedEnv off("WATCHDOG_USEC", std::nullopt);
  EXPECT_EQ(SystemdNotifier().WatchdogTimeout(), absl::ZeroDuration());
}

TEST(SystemdNotifierTest, NotifyToMissingSocketIsUnavailable) {
  ScopedEnv socket("NOTIFY_SOCKET",
                   ::testing::TempDir() + "/no-such-dir/notify.sock");
  SystemdNotifier notifier;
  EXPECT_EQ(notifier.Notify(StatusMessage("x")).code(),
            absl::StatusCode::kUnavailable);
}

// The whole path a daemon uses: a ServiceMonitor over the real notifier,
// with the watchdog systemd would set up for WatchdogSec=20ms.
TEST(SystemdNotifierTest, MonitorPingsThroughNotifySocket) {
  NotifySocket manager;
  ASSERT_TRUE(manager.bound());
  ScopedEnv usec("WATCHDOG_USEC", "20000");
  ScopedEnv pid("WATCHDOG_PID", absl::StrCat(::getpid()));
  SystemdNotifier notifier;
  ASSERT_EQ(notifier.WatchdogTimeout(), absl::Milliseconds(20));
  auto monitor = ServiceMonitor::Start(
      &notifier, [] { return absl::OkStatus(); },
      [] { return std::string("round 1 selecting"); });
  ASSERT_NE(monitor, nullptr);
  EXPECT_EQ(monitor->period(), absl::Milliseconds(10));
  EXPECT_EQ(manager.Receive(), "WATCHDOG=1\nSTATUS=round 1 selecting");
  EXPECT_EQ(manager.Receive(), "WATCHDOG=1\nSTATUS=round 1 selecting");
}

}  // namespace
}  // namespace cohort::base
