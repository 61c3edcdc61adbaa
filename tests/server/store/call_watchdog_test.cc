#include "server/store/call_watchdog.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

// A connected pair of sockets, closed at the end of the test.
struct SocketPair {
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
  ~SocketPair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  int fd[2] = {-1, -1};
};

// Whether `fd` still carries a byte sent from `peer`.
bool StillConnected(int fd, int peer) {
  const char out = 'x';
  if (::write(peer, &out, 1) != 1) return false;
  char in = 0;
  return ::read(fd, &in, 1) == 1 && in == 'x';
}

// The case it exists for: a read that the peer never answers (the peer
// keeps its end open) returns once the limit passes.
TEST(CallWatchdogTest, ReadThatGetsNoAnswerReturnsAfterTheLimit) {
  SocketPair pair;
  CallWatchdog watchdog(absl::Milliseconds(200));
  const absl::Time start = absl::Now();
  watchdog.Arm(pair.fd[0]);
  char byte = 0;
  EXPECT_LE(::read(pair.fd[0], &byte, 1), 0);  // Blocks until shut down.
  const absl::Duration waited = absl::Now() - start;
  EXPECT_TRUE(watchdog.Disarm());
  EXPECT_GE(waited, absl::Milliseconds(200));
  EXPECT_LT(waited, absl::Seconds(5));
}

TEST(CallWatchdogTest, CallThatEndsInTimeLeavesTheSocketAlone) {
  SocketPair pair;
  CallWatchdog watchdog(absl::Milliseconds(100));
  for (int call = 0; call < 3; ++call) {
    watchdog.Arm(pair.fd[0]);
    EXPECT_TRUE(StillConnected(pair.fd[0], pair.fd[1]));
    EXPECT_FALSE(watchdog.Disarm());
  }
  // Disarmed: the limit passes without effect.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_TRUE(StillConnected(pair.fd[0], pair.fd[1]));
  EXPECT_FALSE(watchdog.Disarm());
}

// Arming again restarts the clock: each call has the whole limit.
TEST(CallWatchdogTest, EachCallHasTheWholeLimit) {
  SocketPair pair;
  CallWatchdog watchdog(absl::Milliseconds(300));
  for (int call = 0; call < 4; ++call) {
    watchdog.Arm(pair.fd[0]);
    absl::SleepFor(absl::Milliseconds(150));
    EXPECT_FALSE(watchdog.Disarm()) << "call " << call;
  }
  EXPECT_TRUE(StillConnected(pair.fd[0], pair.fd[1]));
}

TEST(CallWatchdogTest, ZeroLimitNeverFires) {
  SocketPair pair;
  CallWatchdog watchdog(absl::ZeroDuration());
  watchdog.Arm(pair.fd[0]);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(watchdog.Disarm());
  EXPECT_TRUE(StillConnected(pair.fd[0], pair.fd[1]));
}

}  // namespace
}  // namespace cohort::server
