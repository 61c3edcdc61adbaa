// Bad input against real binaries: an untrusted server, an oversized report,
// an unreachable database.

#include <cstdio>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

using BadInputTest = ClusterTest;

TEST_F(BadInputTest, AgentRefusesServerItDoesNotTrust) {
  // The server presents a certificate from a different CA.
  std::string rogue = dir_ + "/rogue-pki";
  ASSERT_EQ(std::system(absl::StrCat(COHORT_SOURCE_DIR, "/deploy/pki/make-dev-pki.sh ",
                                     rogue, " 0 > /dev/null").c_str()), 0);
  ServerOptions o = DirectoryServer();
  o.pki = rogue;
  o.mtls = false;
  o.max_rounds = 0;
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  auto agent = StartAgent(0, port, o.task);
  auto code = agent->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.has_value()) << agent->Log();
  EXPECT_EQ(*code, 3) << agent->Log();
  EXPECT_NE(agent->Log().find("not trusted"), std::string::npos) << agent->Log();
}

TEST_F(BadInputTest, OversizedReportIsResourceExhaustedAndServerKeepsServing) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.goal = 1;
  o.max_rounds = 0;
  o.max_message_bytes = 1 << 20;
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();

  auto stub = TlsStub(port);

  {
    grpc::ClientContext ctx;
    auto stream = stub->Participate(&ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id("big");
    ASSERT_TRUE(stream->Write(hello));
    cohort::v1::ServerMessage reply;
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_TRUE(reply.has_task_assignment()) << reply.DebugString();
    cohort::v1::ClientMessage big;
    auto* t = big.mutable_report()->mutable_delta()->add_tensors();
    t->set_name("conv1.weight");
    t->set_data(std::string(4 << 20, 'x'));
    stream->Write(big);
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << s.error_message();
  }
  // The server is still up and answers the next device.
  grpc::ClientContext ctx;
  auto stream = stub->Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id("small");
  ASSERT_TRUE(stream->Write(hello));
  cohort::v1::ServerMessage reply;
  ASSERT_TRUE(stream->Read(&reply)) << server->Log();
  EXPECT_TRUE(reply.has_task_assignment() || reply.has_retry_window());
  ctx.TryCancel();
  stream->Finish();
  EXPECT_TRUE(server->running());
}

// Peak resident memory of a process, in bytes (VmHWM).
int64_t PeakRss(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

TEST_F(BadInputTest, OversizedCheckInIsRefusedBeforeItIsBuffered) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.max_rounds = 0;
  o.max_message_bytes = 1 << 20;
  o.limits = "max_buffered_bytes: 33554432";  // 32 MiB
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  // A client without the agent's own send limit, as an attacker's.
  grpc::SslCredentialsOptions ssl;
  std::ifstream ca(pki_dir_ + "/ca.crt");
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca), {});
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetMaxSendMessageSize(-1);
  auto stub = cohort::v1::Coordinator::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(ssl), args));
  ASSERT_TRUE(CheckInAnswered(*stub, "warm-up", absl::Seconds(10)));
  const int64_t before = PeakRss(server->pid());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    auto stream = stub->Participate(&ctx);
    cohort::v1::ClientMessage huge;
    huge.mutable_check_in()->set_device_id(std::string(300 << 20, 'x'));
    stream->Write(huge);
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << s.error_message();
  }
  const int64_t grew = PeakRss(server->pid()) - before;
  // The message is 300 MiB; the server may hold a bounded part of it.
  std::printf("server peak RSS grew by %.1f MiB\n", grew / 1048576.0);
  EXPECT_LT(grew, int64_t{100} << 20) << "peak RSS grew by " << grew;
  EXPECT_TRUE(CheckInAnswered(*stub, "after", absl::Seconds(10)));
  EXPECT_TRUE(server->running());
}

TEST_F(BadInputTest, MalformedFirstMessageIsInvalidArgument) {
  ServerOptions o = DirectoryServer();
  o.mtls = false;
  o.max_rounds = 0;
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  auto stub = TlsStub(port);
  grpc::ClientContext ctx;
  auto stream = stub->Participate(&ctx);
  cohort::v1::ClientMessage report_first;
  report_first.mutable_report()->set_round_id(1);
  stream->Write(report_first);
  stream->WritesDone();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(server->running());
}

TEST_F(BadInputTest, AgentOfAnotherPopulationStopsWithClearError) {
  ServerOptions o = DirectoryServer();
  o.max_rounds = 0;
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  auto agent = StartAgent(0, port, "some_other_task");
  auto code = agent->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.has_value()) << agent->Log();
  EXPECT_EQ(*code, 2) << agent->Log();
  EXPECT_NE(agent->Log().find("check-in refused"), std::string::npos)
      << agent->Log();
}

TEST_F(BadInputTest, ServerExitsNonZeroNamingUnreachableDatabase) {
  ServerOptions o;
  o.store =
      "backend: POSTGRES postgres_dsn: \"host=127.0.0.1 port=1 dbname=none "
      "connect_timeout=3\"";
  auto server = StartServer(o, "server");
  auto code = server->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.has_value()) << server->Log();
  EXPECT_NE(*code, 0);
  EXPECT_NE(server->Log().find("PostgreSQL"), std::string::npos) << server->Log();
}

}  // namespace
}  // namespace cohort::testing
