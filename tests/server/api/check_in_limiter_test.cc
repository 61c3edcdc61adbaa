#include "server/api/check_in_limiter.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "gtest/gtest.h"
#include "server/api/sockets.h"
#include "tests/testing/fake_clock.h"

namespace cohort::server {
namespace {

TEST(CheckInLimiterTest, BurstThenRateAndSourcesApart) {
  testing::FakeClock clock;
  CheckInLimiter limiter({.per_second = 2, .burst = 3}, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("connection a").ok());
  const absl::Status refused = limiter.Admit("connection a");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("from this connection; retry in 500 ms"),
            std::string::npos)
      << refused;
  // Another source keeps its own burst.
  EXPECT_TRUE(limiter.Admit("connection b").ok());
  clock.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(limiter.Admit("connection a").ok());
  // A refusal takes no token: half a second after the last admission, one.
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(limiter.Admit("connection a").ok());
  EXPECT_FALSE(limiter.Admit("connection a").ok());
  // Refills up to the burst, not past it.
  clock.Advance(absl::Seconds(60));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("connection a").ok());
  EXPECT_FALSE(limiter.Admit("connection a").ok());
}

TEST(CheckInLimiterTest, MemoryIsBoundedByDroppingRefilledSources) {
  testing::FakeClock clock;
  CheckInLimiter limiter({.per_second = 1, .burst = 2}, &clock,
                         /*max_sources=*/4);
  for (int s = 0; s < 4; ++s) {
    ASSERT_TRUE(limiter.Admit("connection " + std::to_string(s)).ok());
  }
  EXPECT_EQ(limiter.sources(), 4u);
  // The table is full of buckets still refilling: a fifth source is
  // admitted untracked rather than refused.
  EXPECT_TRUE(limiter.Admit("connection 4").ok());
  EXPECT_EQ(limiter.sources(), 4u);
  // Once they have refilled they are dropped to make room.
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Admit("connection 5").ok());
  EXPECT_EQ(limiter.sources(), 1u);
  // A dropped source starts again with its whole burst.
  EXPECT_TRUE(limiter.Admit("connection 0").ok());
  EXPECT_TRUE(limiter.Admit("connection 0").ok());
  EXPECT_FALSE(limiter.Admit("connection 0").ok());
}

TEST(CheckInSourceTest, CertificateNameElseTheDevicesConnection) {
  EXPECT_EQ(CheckInSource("dev-7", "ipv4:10.0.0.1:4000"), "device dev-7");
  EXPECT_EQ(CheckInSource("", "ipv4:10.0.0.1:4000"),
            "connection ipv4:10.0.0.1:4000");
  sockaddr_storage device = {};
  auto& in = reinterpret_cast<sockaddr_in&>(device);
  in.sin_family = AF_INET;
  in.sin_port = htons(40112);
  ::inet_pton(AF_INET, "10.0.0.7", &in.sin_addr);
  const std::string name = RelayedPeerName(3, device);
  EXPECT_EQ(CheckInSource("", "unix-abstract:" + name),
            "connection ipv4:10.0.0.7:40112");
}

TEST(DevicePeerTest, RecoversTheRelayedDeviceAddress) {
  sockaddr_storage device = {};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(device);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(443);
  ::inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
  const std::string name = RelayedPeerName(12, device);
  EXPECT_LE(name.size(), 107u);
  EXPECT_EQ(DevicePeer("unix-abstract:" + name), "ipv6:[2001:db8::1]:443");
  // gRPC percent-encodes the brackets in its URI form.
  std::string encoded = "unix-abstract:" + name;
  encoded.replace(encoded.find('['), 1, "%5B");
  encoded.replace(encoded.find(']'), 1, "%5D");
  EXPECT_EQ(DevicePeer(encoded), "ipv6:[2001:db8::1]:443");
  // Anything else is left as it is.
  EXPECT_EQ(DevicePeer("ipv4:1.2.3.4:5"), "ipv4:1.2.3.4:5");
  EXPECT_EQ(DevicePeer("unix:/run/x.sock"), "unix:/run/x.sock");
  EXPECT_EQ(DevicePeer("unix-abstract:other"), "unix-abstract:other");
  EXPECT_EQ(DevicePeer("unix-abstract:cohort-door/1"),
            "unix-abstract:cohort-door/1");
  sockaddr_storage unix_family = {};
  unix_family.ss_family = AF_UNIX;
  EXPECT_EQ(RelayedPeerName(1, unix_family), "");
}

}  // namespace
}  // namespace cohort::server
