// A hostile network on loopback against a real cohort-server, bounded in
// count and time: streams that never speak or stop in the middle of a
// message (slowloris), an assigned device that never reports, garbage bytes
// and TLS clients with wrong certificates. Each must cost the coordinator
// nothing lasting while well-behaved devices keep being answered.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/transport/grpc_transport.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/testing/raw_tls.h"

namespace cohort::testing {
namespace {

using HostileNetworkTest = ClusterTest;

constexpr char kParticipate[] = "/cohort.v1.Coordinator/Participate";

// Reads from `c` into `got` (all the server sent so far, from its first
// frame) until the server has ended stream 1 (trailers with END_STREAM, or
// RST_STREAM) or closed the connection, or `timeout` passed. True if
// stream 1 was ended.
bool StreamOneEnded(RawTlsConnection& c, absl::Duration timeout,
                    std::string* got) {
  const absl::Time end = absl::Now() + timeout;
  for (;;) {
    if (http2::HasFrame(*got, http2::kHeaders, 1, http2::kEndStream) ||
        http2::HasFrame(*got, http2::kRstStream, 1)) {
      return true;
    }
    if (absl::Now() >= end || c.closed()) return false;
    *got += c.ReadFor(std::min(absl::Milliseconds(100), end - absl::Now()));
  }
}

TEST_F(HostileNetworkTest, SilentAndStalledStreamsEndAtTheCheckInTimeout) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.max_rounds = 0;
  // Far below gRPC's keepalive (20 s + 20 s), which would end a raw client
  // that never answers pings, so only the check-in timeout can end these.
  o.limits = "check_in_timeout_ms: 1500";
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  auto stub = TlsStub(port);

  // A stream that opens and never speaks.
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto silent = stub->Participate(&ctx);
  // A stream whose CheckIn announces 1,000 bytes and sends 10.
  auto raw = RawTlsConnection::Connect(port, pki_dir_ + "/ca.crt", "localhost");
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_TRUE((*raw)->Write(absl::StrCat(
      http2::ClientPreface(),
      http2::GrpcRequestHeaders(1, kParticipate, "localhost"),
      http2::Frame(http2::kData, 0, 1,
                   absl::StrCat(http2::GrpcMessagePrefix(1000),
                                std::string(10, '\x0a'))))));
  const absl::Time start = absl::Now();

  // Well-behaved devices are answered meanwhile.
  EXPECT_TRUE(CheckInAnswered(*stub, "good-1", absl::Seconds(5)));
  // The stalled request was taken in, not refused at once: it is still
  // open well before the timeout, and ended after it.
  std::string got;
  EXPECT_FALSE(StreamOneEnded(**raw, absl::Milliseconds(700), &got));
  EXPECT_TRUE(StreamOneEnded(**raw, absl::Seconds(15), &got)) << server->Log();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1500));
  cohort::v1::ServerMessage nothing;
  EXPECT_FALSE(silent->Read(&nothing));
  const grpc::Status status = silent->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no CheckIn within"))
      << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  EXPECT_TRUE(CheckInAnswered(*stub, "good-2", absl::Seconds(5)));
  EXPECT_TRUE(server->running()) << server->Log();
}

TEST_F(HostileNetworkTest, AssignedDeviceThatNeverReportsIsEndedAfterTheGrace) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.goal = 1;
  o.max_rounds = 0;
  o.report_timeout_ms = 1000;
  o.limits = "report_grace_ms: 1000";
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  auto stub = TlsStub(port);

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id("never-reports");
  hello.mutable_check_in()->set_population(o.task);
  ASSERT_TRUE(stream->Write(hello));
  cohort::v1::ServerMessage answer;
  ASSERT_TRUE(stream->Read(&answer));
  ASSERT_TRUE(answer.has_task_assignment()) << answer.DebugString();
  const absl::Time deadline = absl::FromUnixMillis(
      answer.task_assignment().report_deadline_unix_ms());
  // The device "trains" forever; the coordinator ends the stream.
  EXPECT_FALSE(stream->Read(&answer));
  const absl::Time ended = absl::Now();
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no report within"))
      << status.error_message();
  EXPECT_GE(ended, deadline + absl::Seconds(1));
  EXPECT_TRUE(CheckInAnswered(*stub, "after", absl::Seconds(5)));
  EXPECT_TRUE(server->running()) << server->Log();
}

// Opens a TCP connection to the port and writes `bytes`; the descriptor.
int SendRaw(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    [[maybe_unused]] ssize_t n = ::write(fd, bytes.data(), bytes.size());
  }
  return fd;
}

// Whether the peer closed `fd` within `timeout` (bytes before the close,
// such as a TLS alert, are skipped).
bool ClosedByServer(int fd, absl::Duration timeout) {
  timeval tv = {static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

TEST_F(HostileNetworkTest, GarbageAndWrongCertificatesAreRefusedWhileDevicesTrain) {
  const std::string rogue = dir_ + "/rogue-pki";
  ASSERT_EQ(std::system(absl::StrCat(COHORT_SOURCE_DIR, "/deploy/pki/make-dev-pki.sh ",
                                     rogue, " 1 > /dev/null").c_str()), 0);
  ServerOptions o = DirectoryServer();  // mTLS
  o.goal = 2;
  o.max_rounds = 2;
  o.limits = "handshake_timeout_ms: 3000";
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  auto a0 = StartAgent(0, port, o.task);
  auto a1 = StartAgent(1, port, o.task);

  std::mt19937 rng(7);
  std::vector<int> garbage;
  for (int i = 0; i < 20; ++i) {
    std::string bytes(4096, '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    // Half of them begin as a TLS handshake record, then turn to noise.
    if (i % 2 == 0) bytes.replace(0, 3, "\x16\x03\x01", 3);
    garbage.push_back(SendRaw(port, bytes));
  }
  // TLS clients with a certificate of another CA, and with none at all.
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    const bool rogue_cert = i % 2 == 0;
    auto c = RawTlsConnection::Connect(
        port, pki_dir_ + "/ca.crt", "localhost",
        rogue_cert ? rogue + "/device-0.crt" : "",
        rogue_cert ? rogue + "/device-0.key" : "");
    if (!c.ok()) {  // refused within the handshake (TLS 1.2)
      ++refused;
      continue;
    }
    (*c)->Write(http2::ClientPreface());
    (*c)->ReadFor(absl::Seconds(5));  // TLS 1.3: the refusal follows
    refused += (*c)->closed() ? 1 : 0;
  }
  EXPECT_EQ(refused, 10);
  for (int fd : garbage) {
    EXPECT_TRUE(ClosedByServer(fd, absl::Seconds(10)));
    ::close(fd);
  }

  // The devices trained through all of it: both rounds committed.
  EXPECT_EQ(server->Wait(absl::Seconds(120)), std::optional<int>(0))
      << server->Log();
  EXPECT_EQ(CommittedRounds(dir_ + "/server-run/metrics.csv"), 2)
      << server->Log();
}

}  // namespace
}  // namespace cohort::testing
