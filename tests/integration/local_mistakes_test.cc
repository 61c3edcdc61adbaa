// A device's own configuration mistakes end with a message that names the
// cause and the fix and with the documented exit code (3 for TLS), instead
// of being retried forever; one identity on several live streams is said
// out loud by the server.

#include <chrono>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {


class LocalMistakesServer : public ClusterTest {
 protected:
  int StartMtlsServer() {
    ServerOptions o = DirectoryServer();
    o.max_rounds = 0;
    o.goal = 3;
    server_ = StartServer(o, "server");
    return WaitForPort(*server_, "server");
  }
  // The agent's exit code within a minute (it must not retry forever).
  static int ExitCode(Subprocess& agent) {
    auto code = agent.Wait(absl::Seconds(60));
    EXPECT_TRUE(code.has_value()) << "still retrying:\n" << agent.Log();
    return code.value_or(-1);
  }
  std::unique_ptr<Subprocess> server_;
};

TEST_F(LocalMistakesServer, WrongServerNameOverrideExitsThreeNamingIt) {
  const int port = StartMtlsServer();
  ASSERT_GT(port, 0) << server_->Log();
  AgentOverrides o;
  o.extra = "server_name_override: \"wrong.example\"";
  auto agent = StartAgent(0, port, "it", o);
  EXPECT_EQ(ExitCode(*agent), 3) << agent->Log();
  EXPECT_NE(agent->Log().find("server_name_override"), std::string::npos)
      << agent->Log();
}

TEST_F(LocalMistakesServer, DeviceCertificateFromAnotherCaExitsThreeNamingIt) {
  const std::string rogue = dir_ + "/rogue-pki";
  ASSERT_EQ(std::system(absl::StrCat(COHORT_SOURCE_DIR,
                                     "/deploy/pki/make-dev-pki.sh ", rogue,
                                     " 1 > /dev/null")
                            .c_str()),
            0);
  const int port = StartMtlsServer();
  ASSERT_GT(port, 0) << server_->Log();
  AgentOverrides o;
  o.cert_pki = rogue;  // trusts the right CA, presents another CA's device
  auto agent = StartAgent(0, port, "it", o);
  EXPECT_EQ(ExitCode(*agent), 3) << agent->Log();
  EXPECT_NE(agent->Log().find("refused this device's certificate"),
            std::string::npos)
      << agent->Log();
}

TEST_F(LocalMistakesServer, OneCertificateOnThreeAgentsIsReportedByTheServer) {
  // Under SecAgg+ the assigned copy holds its conversation open until its
  // round leaves selection, which needs three assigned devices (min_reports
  // is the goal): one identity never gets there, so the other copies'
  // check-ins always overlap it. With plain FedAvg the overlap lasted one
  // short training and the test depended on timing.
  ServerOptions o = DirectoryServer();
  o.max_rounds = 0;
  o.goal = 3;
  o.secure = true;
  o.round_extra =
      "secure_aggregation { enabled: true phase_timeout_ms: 120000 }";
  server_ = StartServer(o, "server");
  const int port = WaitForPort(*server_, "server");
  ASSERT_GT(port, 0) << server_->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) {
    AgentOverrides o;
    o.cert_name = "device-0";
    agents.push_back(StartAgent(i, port, "it", o));
  }
  bool reported = false;
  for (int i = 0; i < 600 && !reported; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    reported = server_->Log().find("device device-0 has") != std::string::npos &&
               server_->Log().find("live conversations") != std::string::npos;
  }
  EXPECT_TRUE(reported) << server_->Log();
}

}  // namespace
}  // namespace cohort::testing
