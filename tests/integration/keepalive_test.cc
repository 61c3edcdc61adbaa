// A stream that is silent for longer than a proxy's idle timeout (a device
// training locally) must survive: keepalive pings on both ends keep the
// connection busy. The proxy is socat with a 5-second idle timeout.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/transport/grpc_transport.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

using KeepaliveTest = ClusterTest;

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(KeepaliveTest, StreamIdleLongerThanProxyTimeoutStaysOpen) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.goal = 1;
  o.max_rounds = 0;
  o.limits = "keepalive_ms: 2000 min_client_keepalive_ms: 1000";
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();

  const int proxy_port = FreeLoopbackPort();
  Subprocess proxy(
      {"/usr/bin/socat", "-T", "5",
       absl::StrCat("TCP-LISTEN:", proxy_port, ",bind=127.0.0.1,reuseaddr,fork"),
       absl::StrCat("TCP:127.0.0.1:", port)},
      dir_ + "/socat.log");
  absl::SleepFor(absl::Milliseconds(300));

  cohort::v1::TlsConfig tls;
  tls.set_ca_cert_path(pki_dir_ + "/ca.crt");
  auto channel = client::MakeTlsChannel(absl::StrCat("127.0.0.1:", proxy_port),
                                        tls, "localhost", absl::Seconds(2));
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = cohort::v1::Coordinator::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(40)));
  auto stream = stub->Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id("idle");
  ASSERT_TRUE(stream->Write(hello));
  cohort::v1::ServerMessage reply;
  ASSERT_TRUE(stream->Read(&reply)) << server->Log();
  ASSERT_TRUE(reply.has_task_assignment()) << reply.DebugString();

  // Silent for 8 s, as a device training; the proxy cuts anything idle 5 s.
  absl::SleepFor(absl::Seconds(8));
  cohort::v1::ClientMessage report;
  report.mutable_report()->set_round_id(reply.task_assignment().round_id());
  stream->Write(report);
  stream->WritesDone();
  // A live connection carries the server's own verdict on this empty report:
  // an Ack, or the stream ended with the engine's status. A cut one ends as
  // UNAVAILABLE ("Socket closed").
  cohort::v1::ServerMessage verdict;
  const bool acked = stream->Read(&verdict) && verdict.has_ack();
  grpc::Status s = stream->Finish();
  if (!acked) {
    EXPECT_NE(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_NE(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_NE(s.error_code(), grpc::StatusCode::OK);
  }
  EXPECT_TRUE(server->running());
}

}  // namespace
}  // namespace cohort::testing
