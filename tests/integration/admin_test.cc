// The operator's admin API end to end: a real cohort-server with its admin
// port, `cohortctl rollback` as an operator runs it, agents that pin the root
// and take the rolled-back weights under a new, higher release, and an
// admin port that admits only operator certificates. The fixture is in
// admin_fixture.h.

#include <signal.h>

#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cohort/v1/admin.grpc.pb.h"
#include "common/base/files.h"
#include "grpcpp/grpcpp.h"
#include "server/store/postgres_store.h"
#include "tests/integration/admin_fixture.h"
#include "tests/testing/pg_env.h"

namespace cohort::testing {
namespace {

TEST_F(AdminTest, RollbackRepublishesOldWeightsUnderAHigherRelease) {
  const std::string dsn = PgDsn();
  if (dsn.empty()) {
    COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is not set");
  }
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn, "\"");
  o.task = UniqueTask();
  o.max_rounds = 1000;  // stopped with SIGTERM below
  o.extra = absl::StrCat(SigningConfig(), "\n", AdminConfig());
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int admin_port = AdminPort();
  ASSERT_GT(admin_port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(StartAgent(i, port, o.task, Pinned()));
  }
  auto opened = server::PostgresStore::Connect(dsn);
  ASSERT_TRUE(opened.ok()) << opened.status();
  server::Store& store = **opened;
  const bool trained = PollUntil(absl::Seconds(90), [&] {
    auto versions = store.ListVersions(o.task);
    return versions.ok() && versions->size() >= 3;
  });
  ASSERT_TRUE(trained) << "fewer than 3 versions after 90 s\n" << server->Log();
  auto before = store.ListReleases(o.task);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_FALSE(before->empty());

  std::string log;
  ASSERT_EQ(Cohortctl({"rollback", "--task=" + o.task, "--to_version=1",
                       "--reason=test"},
                      admin_port, "operator", &log),
            0)
      << log << server->Log();

  server::ReleaseRecord rollback;
  ASSERT_NO_FATAL_FAILURE(
      FindRollback(store, o.task, before->back(), &rollback));

  // Every agent takes the rollback: it is a higher release, not a downgrade.
  const bool taken = PollUntil(absl::Seconds(60), [&] {
    for (int i = 0; i < 3; ++i) {
      if (Held(i) < rollback.release) return false;
    }
    return true;
  });
  EXPECT_TRUE(taken) << "agents hold " << Held(0) << ", " << Held(1) << ", "
                     << Held(2) << "; the rollback is release "
                     << rollback.release << "\n"
                     << agents[0]->Log();

  ASSERT_NO_FATAL_FAILURE(StopCluster(*server, agents));
  ExpectReplayRefused(o.task, before->back());
}

class AdminPortTest : public AdminTest {
 protected:
  // A device certificate passes the TLS handshake (same CA) but not the
  // allow-list, for reads, for the calls that change what devices get or
  // whether rounds run, and for ListTasks, which names no task.
  void ExpectDeviceRefused(int admin_port) {
    std::string log;
    EXPECT_EQ(Cohortctl({"status", "--task=admin_it"}, admin_port, "device-0",
                        &log),
              1)
        << log;
    EXPECT_NE(log.find("PERMISSION_DENIED"), std::string::npos) << log;
    EXPECT_NE(log.find("device-0"), std::string::npos) << log;
    EXPECT_EQ(Cohortctl({"pause", "--task=admin_it", "--reason=x"}, admin_port,
                        "device-0", &log),
              1)
        << log;
    EXPECT_NE(log.find("PERMISSION_DENIED"), std::string::npos) << log;
    EXPECT_EQ(Cohortctl({"tasks"}, admin_port, "device-0", &log), 1) << log;
    EXPECT_NE(log.find("PERMISSION_DENIED"), std::string::npos) << log;
    auto device = AdminStub(admin_port, "device-0");
    cohort::v1::RollbackRequest promote;
    promote.set_task("admin_it");
    promote.set_to_version(1);
    promote.set_reason("x");
    cohort::v1::RollbackResponse promoted;
    EXPECT_EQ(
        Call(*device, &cohort::v1::Admin::Stub::Promote, promote, &promoted)
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
  }

  // The operator is admitted, so the refusals were the subject's, and the
  // refused pause changed nothing.
  void ExpectOperatorAdmitted(int admin_port) {
    std::string log;
    EXPECT_EQ(Cohortctl({"status", "--task=admin_it"}, admin_port, "operator",
                        &log),
              0)
        << log;
    EXPECT_NE(log.find("admin_it"), std::string::npos) << log;
    EXPECT_TRUE(std::regex_search(log, std::regex("paused +no"))) << log;
    EXPECT_EQ(Cohortctl({"tasks"}, admin_port, "operator", &log), 0) << log;
    EXPECT_NE(log.find("admin_it"), std::string::npos) << log;
    EXPECT_EQ(
        Cohortctl({"status", "--task=other"}, admin_port, "operator", &log), 1)
        << log;
    EXPECT_NE(log.find("NOT_FOUND"), std::string::npos) << log;
  }

  // Without a client certificate the handshake itself fails: UNAVAILABLE,
  // never the service's PERMISSION_DENIED.
  void ExpectAnonymousRefused(int admin_port) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = base::ReadFile(pki_dir_ + "/ca.crt").value_or("");
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = cohort::v1::Admin::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", admin_port),
                                  grpc::SslCredentials(ssl), args));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    cohort::v1::StatusRequest request;
    request.set_task("admin_it");
    cohort::v1::StatusResponse response;
    const grpc::Status anonymous = stub->Status(&context, request, &response);
    EXPECT_FALSE(anonymous.ok());
    EXPECT_NE(anonymous.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << anonymous.error_message();
  }

  // An operator certificate that has expired fails the handshake too: the
  // CA signed it, the subject is allowed, but it is out of date.
  void ExpectExpiredRefused(int admin_port) {
    const std::string expired = pki_dir_ + "/operator-expired";
    ASSERT_EQ(std::system(absl::StrCat(
                  "cp ", pki_dir_, "/operator.key ", expired, ".key && "
                  "openssl req -new -key ", expired, ".key -subj /CN=operator "
                  "-out ", expired, ".csr 2>/dev/null && "
                  "openssl x509 -req -in ", expired, ".csr -CA ", pki_dir_,
                  "/ca.crt -CAkey ", pki_dir_, "/ca.key -CAcreateserial "
                  "-days -1 -out ", expired, ".crt 2>/dev/null")
                  .c_str()),
              0);
    std::string log;
    EXPECT_EQ(Cohortctl({"status", "--task=admin_it"}, admin_port,
                        "operator-expired", &log),
              1)
        << log;
    EXPECT_EQ(log.find("PERMISSION_DENIED"), std::string::npos) << log;
    EXPECT_EQ(log.find("admin_it  "), std::string::npos) << log;
  }

  // Every refusal of a verified subject is in the server's log, by method.
  static void ExpectRefusalsLogged(const std::string& server_log) {
    for (const char* method : {"Status", "Pause", "ListTasks", "Promote"}) {
      EXPECT_NE(server_log.find(absl::StrCat(
                    "admin: refused ", method,
                    " from certificate subject device-0")),
                std::string::npos)
          << method << "\n"
          << server_log;
    }
    EXPECT_EQ(server_log.find("certificate subject <none>"), std::string::npos)
        << server_log;
  }
};

TEST_F(AdminPortTest, AdminPortAdmitsOnlyOperatorCertificates) {
  ServerOptions o = DirectoryServer();
  o.task = "admin_it";
  o.extra = AdminConfig();
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int admin_port = AdminPort();
  ASSERT_GT(admin_port, 0) << server->Log();

  // grpc.health.v1 answers on both ports (the store is reachable).
  for (int p : {admin_port, port}) {
    std::string log;
    EXPECT_EQ(Cohortctl({"health"}, p, "operator", &log), 0) << log;
    EXPECT_EQ(log, "SERVING\n") << "port " << p;
  }
  ExpectDeviceRefused(admin_port);
  ExpectOperatorAdmitted(admin_port);
  ExpectAnonymousRefused(admin_port);
  ASSERT_NO_FATAL_FAILURE(ExpectExpiredRefused(admin_port));

  server->Signal(SIGTERM);
  auto code = server->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.has_value()) << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  ExpectRefusalsLogged(server->Log());
}

}  // namespace
}  // namespace cohort::testing
