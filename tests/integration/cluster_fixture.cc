#include "tests/integration/cluster_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/transport/grpc_transport.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::testing {
namespace {

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

void ClusterTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = absl::StrCat(::testing::TempDir(), "/cluster_", info->name(), "_",
                      ::getpid());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  data_dir_ = dir_ + "/data";
  pki_dir_ = dir_ + "/pki";
  ASSERT_TRUE(WriteSyntheticFashionMnist(data_dir_, 1500, 500, 3));
  std::string cmd =
      absl::StrCat(COHORT_SOURCE_DIR, "/deploy/pki/make-dev-pki.sh ", pki_dir_,
                   " 4 > /dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

std::string ClusterTest::PgDsn() {
  const char* dsn = std::getenv("COHORT_TEST_PG_DSN");
  return dsn == nullptr ? "" : dsn;
}

std::string ClusterTest::UniqueTask() const {
  std::string task = absl::StrCat(
      "it_", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
      "_", ::getpid(), "_", absl::ToUnixMillis(absl::Now()));
  // A parameterized test's name holds '/', outside the stores' name rule.
  std::replace(task.begin(), task.end(), '/', '_');
  return task;
}

ClusterTest::ServerOptions ClusterTest::DirectoryServer() const {
  ServerOptions o;
  o.store = absl::StrCat("backend: DIRECTORY directory: \"", dir_, "/state\"");
  return o;
}

std::unique_ptr<Subprocess> ClusterTest::StartServer(const ServerOptions& o,
                                                     const std::string& name) {
  const std::string pki = o.pki.empty() ? pki_dir_ : o.pki;
  std::string config = absl::StrFormat(
      R"(listen_address: "%s"
port_file: "%s/%s.port"
tls { cert_path: "%s/%s.crt" key_path: "%s/%s.key" %s }
store { %s }
task: "%s"
architecture: "small_cnn"
round { goal_count: %d %s
        report_timeout_ms: %d retry_min_ms: 100 retry_max_ms: 300
        max_rounds: %d %s }
plan { epochs: 1 batch_size: 16 learning_rate: 0.05 momentum: 0.9 }
holdout { idx_dir: "%s" }
run_dir: "%s/%s-run"
max_message_bytes: %d
limits { %s }
%s
)",
      o.listen, dir_, name, pki, o.cert, pki, o.cert,
      o.mtls ? absl::StrCat("ca_cert_path: \"", pki, "/ca.crt\"") : "", o.store,
      o.task, o.goal,
      o.buffered.has_value()
          ? absl::StrCat("buffered { ", *o.buffered, " }")
          : absl::StrCat("over_selection: 1.3 selection_timeout_ms: ",
                         o.selection_timeout_ms),
      o.report_timeout_ms, o.max_rounds,
      absl::StrCat(o.secure ? "" : "secure_aggregation { enabled: false } ",
                   o.round_extra),
      data_dir_, dir_, name, o.max_message_bytes, o.limits, o.extra);
  std::string path = absl::StrCat(dir_, "/", name, ".textproto");
  WriteText(path, config);
  std::filesystem::remove(absl::StrCat(dir_, "/", name, ".port"));
  std::vector<std::string> argv = o.launcher;
  argv.push_back(BinaryPath("cohort-server"));
  argv.push_back("--config=" + path);
  return std::make_unique<Subprocess>(std::move(argv),
                                      absl::StrCat(dir_, "/", name, ".log"));
}

int ClusterTest::WaitForPort(Subprocess& server, const std::string& name) {
  const std::string path = absl::StrCat(dir_, "/", name, ".port");
  for (int i = 0; i < 1200; ++i) {
    if (const int port = PortInFile(path); port > 0) return port;
    if (!server.running()) return 0;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}

int ClusterTest::PortInFile(const std::string& path) {
  std::ifstream in(path);
  int port = 0;
  return in >> port && port > 0 ? port : 0;
}

int ClusterTest::CommittedRounds(const std::string& metrics_csv) {
  std::ifstream in(metrics_csv);
  int committed = 0;
  for (std::string line; std::getline(in, line);) {
    committed += absl::EndsWith(line, ",committed") ? 1 : 0;
  }
  return committed;
}

std::unique_ptr<Subprocess> ClusterTest::StartAgent(
    int index, int port, const std::string& population, const std::string& ca) {
  AgentOverrides o;
  o.ca_path = ca;
  return StartAgent(index, port, population, o);
}

std::unique_ptr<Subprocess> ClusterTest::StartAgent(
    int index, int port, const std::string& population,
    const AgentOverrides& o) {
  const std::string id = absl::StrCat("device-", index);
  const std::string cert_pki = o.cert_pki.empty() ? pki_dir_ : o.cert_pki;
  const std::string cert = o.cert_name.empty() ? id : o.cert_name;
  const std::string tls =
      !o.tls.empty()
          ? o.tls
          : absl::StrFormat(
                R"(ca_cert_path: "%s" cert_path: "%s/%s.crt" key_path: "%s/%s.key")",
                o.ca_path.empty() ? pki_dir_ + "/ca.crt" : o.ca_path, cert_pki,
                cert, cert_pki, cert);
  std::string config = absl::StrFormat(
      R"(server_address: "127.0.0.1:%d"
tls { %s }
device_id: "%s"
population: "%s"
data { idx_dir: "%s" }
partition { scheme: IID num_shards: 3 shard_index: %d seed: 5 }
state_dir: "%s/%s-state"
backoff_initial_ms: 100
backoff_max_ms: 1000
%s
)",
      port, tls, id, population, data_dir_, index % 3, dir_, id, o.extra);
  std::string path = absl::StrCat(dir_, "/", id, ".textproto");
  WriteText(path, config);
  std::vector<std::string> argv = o.launcher;
  argv.push_back(BinaryPath("cohort-agent"));
  argv.push_back("--config=" + path);
  return std::make_unique<Subprocess>(std::move(argv),
                                      absl::StrCat(dir_, "/", id, ".log"));
}

std::unique_ptr<cohort::v1::Coordinator::Stub> ClusterTest::TlsStub(int port) {
  cohort::v1::TlsConfig tls;
  tls.set_ca_cert_path(pki_dir_ + "/ca.crt");
  auto channel = client::MakeTlsChannel(absl::StrCat("127.0.0.1:", port), tls,
                                        "localhost");
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? cohort::v1::Coordinator::NewStub(*channel) : nullptr;
}

std::optional<cohort::v1::ServerMessage> ClusterTest::FirstAnswer(
    cohort::v1::Coordinator::Stub& stub, const std::string& device_id,
    absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  auto stream = stub.Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id(device_id);
  cohort::v1::ServerMessage reply;
  const bool answered = stream->Write(hello) && stream->Read(&reply);
  ctx.TryCancel();
  grpc::Status status = stream->Finish();
  if (!answered) {
    std::fprintf(stderr, "check-in of %s not answered: %d %s\n",
                 device_id.c_str(), static_cast<int>(status.error_code()),
                 status.error_message().c_str());
    return std::nullopt;
  }
  return reply;
}

bool ClusterTest::CheckInAnswered(cohort::v1::Coordinator::Stub& stub,
                                  const std::string& device_id,
                                  absl::Duration timeout) {
  std::optional<cohort::v1::ServerMessage> reply =
      FirstAnswer(stub, device_id, timeout);
  return reply.has_value() &&
         (reply->has_task_assignment() || reply->has_retry_window());
}

}  // namespace cohort::testing
