#include "server/api/front_door.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

// An echo server on a Unix socket, standing in for gRPC behind the door.
class EchoBackend {
 public:
  explicit EchoBackend(const std::string& path) : path_(path) {
    std::filesystem::remove(path);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoBackend() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    for (auto& t : conns_) t.join();
    ::close(fd_);
  }
  int accepted() const { return accepted_.load(); }

 private:
  void Serve() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      accepted_++;
      conns_.emplace_back([c] {
        char buf[4096];
        for (;;) {
          ssize_t n = ::read(c, buf, sizeof(buf));
          if (n <= 0 || ::write(c, buf, n) != n) break;
        }
        ::close(c);
      });
    }
  }

  std::string path_;
  int fd_ = -1;
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

int Dial(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// Reads until `want` bytes or EOF/timeout; what arrived.
std::string ReadUpTo(int fd, size_t want, absl::Duration timeout) {
  std::string got;
  const absl::Time end = absl::Now() + timeout;
  while (got.size() < want && absl::Now() < end) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 50) != 1) continue;
    char buf[65536];
    ssize_t n = ::read(fd, buf, std::min(sizeof(buf), want - got.size()));
    if (n <= 0) break;
    got.append(buf, n);
  }
  return got;
}

// True if the server side closed `fd` (read returns 0 or an error) in time.
bool ClosedByPeer(int fd, absl::Duration timeout) {
  pollfd p = {fd, POLLIN, 0};
  if (::poll(&p, 1, absl::ToInt64Milliseconds(timeout)) != 1) return false;
  char c;
  return ::read(fd, &c, 1) <= 0;
}

class FrontDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = ::testing::TempDir() + "/door_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() +
              ".sock";
    backend_ = std::make_unique<EchoBackend>(socket_);
  }
  std::unique_ptr<FrontDoor> Open(FrontDoorOptions o) {
    auto door = FrontDoor::Listen("127.0.0.1:0", socket_, o);
    EXPECT_TRUE(door.ok()) << door.status();
    (*door)->Start();
    return std::move(*door);
  }
  std::string socket_;
  std::unique_ptr<EchoBackend> backend_;
};

TEST_F(FrontDoorTest, RelaysBytesBothWaysBeyondOneBuffer) {
  auto door = Open({});
  int fd = Dial(door->port());
  // Larger than both relay buffers, so back-pressure is exercised.
  std::string payload(5 * FrontDoor::kRelayBufferBytes + 17, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  std::thread writer([&] {
    EXPECT_EQ(::write(fd, payload.data(), payload.size()),
              static_cast<ssize_t>(payload.size()));
  });
  std::string echoed = ReadUpTo(fd, payload.size(), absl::Seconds(10));
  writer.join();
  EXPECT_EQ(echoed, payload);
  EXPECT_EQ(door->counters().open.load(), 1);
  ::close(fd);
}

TEST_F(FrontDoorTest, ConnectionOverTheLimitIsClosedAndLaterOnesAdmitted) {
  FrontDoorOptions o;
  o.max_connections = 2;
  o.max_unauthenticated = 2;
  auto door = Open(o);
  int a = Dial(door->port()), b = Dial(door->port());
  ::write(a, "x", 1);
  ::write(b, "y", 1);
  EXPECT_EQ(ReadUpTo(a, 1, absl::Seconds(5)), "x");
  EXPECT_EQ(ReadUpTo(b, 1, absl::Seconds(5)), "y");
  int c = Dial(door->port());
  EXPECT_TRUE(ClosedByPeer(c, absl::Seconds(5)));
  EXPECT_EQ(door->counters().refused.load(), 1);
  ::close(c);
  ::close(a);
  // Once a slot frees, a new connection is relayed again.
  for (int i = 0; i < 100 && door->counters().open.load() > 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  int d = Dial(door->port());
  ::write(d, "z", 1);
  EXPECT_EQ(ReadUpTo(d, 1, absl::Seconds(5)), "z");
  ::close(b);
  ::close(d);
}

TEST_F(FrontDoorTest, UnauthenticatedPoolFreesAfterHandshakeTimeout) {
  FrontDoorOptions o;
  o.max_connections = 10;
  o.max_unauthenticated = 1;
  o.handshake_timeout = absl::Milliseconds(300);
  auto door = Open(o);
  int a = Dial(door->port());
  ::write(a, "a", 1);
  ASSERT_EQ(ReadUpTo(a, 1, absl::Seconds(5)), "a");
  int refused = Dial(door->port());
  EXPECT_TRUE(ClosedByPeer(refused, absl::Seconds(5)));
  ::close(refused);
  EXPECT_EQ(door->counters().unauthenticated.load(), 1);
  // After the timeout the first connection counts as past its handshake.
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_EQ(door->counters().unauthenticated.load(), 0);
  int b = Dial(door->port());
  ::write(b, "b", 1);
  EXPECT_EQ(ReadUpTo(b, 1, absl::Seconds(5)), "b");
  ::close(a);
  ::close(b);
}

// The echo backend's flights begin with whatever the device sent, standing
// in for gRPC's TLS records: 0x16 handshake, 0x17 application data.
TEST_F(FrontDoorTest, ConnectionLeavesTheUnauthenticatedPoolWhenItsHandshakeEnds) {
  FrontDoorOptions o;
  o.max_connections = 10;
  o.max_unauthenticated = 1;
  o.handshake_timeout = absl::Seconds(60);
  auto door = Open(o);
  int a = Dial(door->port());
  // ClientHello; ServerHello (a handshake record).
  ::write(a, "\x16", 1);
  ASSERT_EQ(ReadUpTo(a, 1, absl::Seconds(5)), "\x16");
  // A second flight that is a handshake record again, as after a TLS 1.3
  // HelloRetryRequest: the handshake is not over.
  ::write(a, "\x16", 1);
  ASSERT_EQ(ReadUpTo(a, 1, absl::Seconds(5)), "\x16");
  EXPECT_EQ(door->counters().unauthenticated.load(), 1);
  int refused = Dial(door->port());
  EXPECT_TRUE(ClosedByPeer(refused, absl::Seconds(5)));
  ::close(refused);
  // Application data in a later flight: gRPC finished the handshake.
  ::write(a, "\x17", 1);
  ASSERT_EQ(ReadUpTo(a, 1, absl::Seconds(5)), "\x17");
  for (int i = 0; i < 200 && door->counters().unauthenticated.load() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(door->counters().unauthenticated.load(), 0);
  int b = Dial(door->port());
  ::write(b, "b", 1);
  EXPECT_EQ(ReadUpTo(b, 1, absl::Seconds(5)), "b");
  EXPECT_EQ(door->counters().open.load(), 2);
  ::close(a);
  ::close(b);
}

// The door's own end of connection `client` (its peer is `client`'s local
// address), found among this process's descriptors; -1 if none.
int AcceptedEnd(int client) {
  sockaddr_in mine = {};
  socklen_t len = sizeof(mine);
  ::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len);
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in peer = {};
    len = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        peer.sin_family == AF_INET && peer.sin_port == mine.sin_port &&
        fd != client) {
      return fd;
    }
  }
  return -1;
}

// Nagle's algorithm on the door's socket held each small message (a SecAgg
// phase, a stream's trailers) until the device's delayed ACK, up to 40 ms:
// a flood thread checked in 30 times a second instead of 4,000.
TEST_F(FrontDoorTest, DeviceConnectionsSendSmallMessagesWithoutNagleDelay) {
  auto door = Open({});
  int fd = Dial(door->port());
  ::write(fd, "n", 1);
  ASSERT_EQ(ReadUpTo(fd, 1, absl::Seconds(5)), "n");
  const int accepted = AcceptedEnd(fd);
  ASSERT_GE(accepted, 0);
  int nodelay = 0;
  socklen_t len = sizeof(nodelay);
  ASSERT_EQ(::getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  ::close(fd);
}

TEST_F(FrontDoorTest, BackendCloseEndsTheDeviceConnection) {
  auto door = Open({});
  int fd = Dial(door->port());
  ::write(fd, "q", 1);
  ASSERT_EQ(ReadUpTo(fd, 1, absl::Seconds(5)), "q");
  ::shutdown(fd, SHUT_WR);  // the echo backend then closes its side
  EXPECT_TRUE(ClosedByPeer(fd, absl::Seconds(5)));
  ::close(fd);
  for (int i = 0; i < 200 && door->counters().open.load() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(door->counters().open.load(), 0);
}

TEST(ResolveFrontDoorOptionsTest, LowersMaxConnectionsToWhatDescriptorsAllow) {
  cohort::v1::ConnectionLimits limits;
  limits.set_max_connections(5000);
  auto o = ResolveFrontDoorOptions(limits, 1024, 16 << 20);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->max_connections, (1024 - 256) / 3);
  EXPECT_LE(o->max_unauthenticated, o->max_connections);
  limits.set_handshake_timeout_ms(-1);
  EXPECT_EQ(ResolveFrontDoorOptions(limits, 1024, 16 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
  limits.set_handshake_timeout_ms(0);
  limits.set_max_buffered_bytes(20 << 20);  // under 2 x 16 MiB
  auto small = ResolveFrontDoorOptions(limits, 1024, 16 << 20);
  EXPECT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(small.status().message().find("limits.max_buffered_bytes"),
            std::string::npos);
}

TEST(ResolveFrontDoorOptionsTest, StreamDeadlinesDefaultAndRefuseNegatives) {
  cohort::v1::ConnectionLimits limits;
  auto defaults = ResolveFrontDoorOptions(limits, 4096, 1 << 20);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->check_in_timeout, absl::Seconds(10));
  EXPECT_EQ(defaults->report_grace, absl::Seconds(60));
  limits.set_check_in_timeout_ms(1500);
  limits.set_report_grace_ms(2500);
  auto set = ResolveFrontDoorOptions(limits, 4096, 1 << 20);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->check_in_timeout, absl::Milliseconds(1500));
  EXPECT_EQ(set->report_grace, absl::Milliseconds(2500));
  for (const char* field : {"check_in_timeout_ms", "report_grace_ms"}) {
    cohort::v1::ConnectionLimits bad;
    if (std::string(field) == "check_in_timeout_ms") {
      bad.set_check_in_timeout_ms(-1);
    } else {
      bad.set_report_grace_ms(-1);
    }
    auto refused = ResolveFrontDoorOptions(bad, 4096, 1 << 20);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find(field), std::string::npos)
        << refused.status();
  }
}

TEST(ResolveFrontDoorOptionsTest, CheckInRateDefaultsAndRefusesNonFinite) {
  cohort::v1::ConnectionLimits limits;
  auto defaults = ResolveFrontDoorOptions(limits, 4096, 1 << 20);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->check_in.per_second, 5);
  EXPECT_EQ(defaults->check_in.burst, 20);
  limits.set_check_in_rate(0.5);
  limits.set_check_in_burst(3);
  auto set = ResolveFrontDoorOptions(limits, 4096, 1 << 20);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->check_in.per_second, 0.5);
  EXPECT_EQ(set->check_in.burst, 3);
  for (double rate : {-1.0, std::nan(""), HUGE_VAL}) {
    cohort::v1::ConnectionLimits bad;
    bad.set_check_in_rate(rate);
    auto refused = ResolveFrontDoorOptions(bad, 4096, 1 << 20);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << rate;
    EXPECT_NE(refused.status().message().find("check_in_rate"),
              std::string::npos);
  }
  cohort::v1::ConnectionLimits too_slow;
  too_slow.set_check_in_rate(0.001);
  EXPECT_EQ(ResolveFrontDoorOptions(too_slow, 4096, 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
  cohort::v1::ConnectionLimits bad_burst;
  bad_burst.set_check_in_burst(-2);
  EXPECT_EQ(ResolveFrontDoorOptions(bad_burst, 4096, 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Agents wait at least retry_min between check-ins: the default rate rises
// to admit twice their rate, and a configured one that would refuse them is
// an error.
TEST(ResolveFrontDoorOptionsTest, CheckInRateAdmitsAgentsThatWaitRetryMin) {
  cohort::v1::ConnectionLimits unset;
  CheckInRate rate;  // the default, 5 a second
  ASSERT_TRUE(
      FitCheckInRateToRetries(unset, absl::Milliseconds(100), &rate).ok());
  EXPECT_EQ(rate.per_second, 20);
  rate = {};
  ASSERT_TRUE(FitCheckInRateToRetries(unset, absl::Seconds(1), &rate).ok());
  EXPECT_EQ(rate.per_second, 5);
  cohort::v1::ConnectionLimits set;
  set.set_check_in_rate(8);
  rate.per_second = 8;
  const absl::Status refused =
      FitCheckInRateToRetries(set, absl::Milliseconds(100), &rate);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("limits.check_in_rate"), std::string::npos)
      << refused;
  EXPECT_TRUE(FitCheckInRateToRetries(set, absl::Seconds(1), &rate).ok());
  EXPECT_EQ(rate.per_second, 8);
}

TEST(FrontDoorListenTest, BadAddressIsInvalidArgument) {
  auto door = FrontDoor::Listen("no-port-here", "/tmp/x.sock", {});
  EXPECT_EQ(door.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::server
