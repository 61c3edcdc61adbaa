// A missing or unusable config, certificate, key or state directory ends
// the process at once with exit code 2 (a setup mistake, which the systemd
// units do not restart) and a message naming the path.

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

class MissingPathsTest : public ClusterTest {
 protected:
  // Exit code within a minute; -1 if the process is still running.
  static int ExitCode(Subprocess& process) {
    auto code = process.Wait(absl::Seconds(60));
    EXPECT_TRUE(code.has_value()) << "still running:\n" << process.Log();
    return code.value_or(-1);
  }
  static void ExpectSetupFailureNaming(Subprocess& process,
                                       const std::string& path) {
    EXPECT_EQ(ExitCode(process), 2) << process.Log();
    EXPECT_NE(process.Log().find(path), std::string::npos)
        << "no mention of " << path << " in:\n" << process.Log();
  }
  // A regular file where a directory should be.
  static void PutFileAt(const std::string& path) {
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path());
    std::ofstream(path) << "not a directory\n";
  }
};

TEST_F(MissingPathsTest, ServerWithoutItsConfigFile) {
  const std::string missing = dir_ + "/no-such-server.textproto";
  Subprocess server({BinaryPath("cohort-server"), "--config=" + missing},
                    dir_ + "/server.log");
  ExpectSetupFailureNaming(server, missing);
}

TEST_F(MissingPathsTest, ServerWithoutItsCertificate) {
  ServerOptions o = DirectoryServer();
  o.pki = dir_ + "/no-pki";
  auto server = StartServer(o, "server");
  ExpectSetupFailureNaming(*server, dir_ + "/no-pki/server.crt");
}

TEST_F(MissingPathsTest, ServerWithoutItsKey) {
  const std::string pki = dir_ + "/pki-without-key";
  std::filesystem::copy(pki_dir_, pki);
  std::filesystem::remove(pki + "/server.key");
  ServerOptions o = DirectoryServer();
  o.pki = pki;
  auto server = StartServer(o, "server");
  ExpectSetupFailureNaming(*server, pki + "/server.key");
}

TEST_F(MissingPathsTest, ServerWhoseStoreDirectoryIsAFile) {
  const std::string store = dir_ + "/store-file";
  PutFileAt(store);
  ServerOptions o = DirectoryServer();
  o.store = absl::StrCat("backend: DIRECTORY directory: \"", store, "\"");
  auto server = StartServer(o, "server");
  ExpectSetupFailureNaming(*server, store);
  EXPECT_NE(server->Log().find("store.directory"), std::string::npos);
}

TEST_F(MissingPathsTest, ServerWhoseRunDirectoryIsAFile) {
  PutFileAt(dir_ + "/server-run");  // the fixture's run_dir
  auto server = StartServer(DirectoryServer(), "server");
  ExpectSetupFailureNaming(*server, dir_ + "/server-run");
  EXPECT_NE(server->Log().find("run_dir"), std::string::npos);
}

TEST_F(MissingPathsTest, AgentWithoutItsConfigFile) {
  const std::string missing = dir_ + "/no-such-agent.textproto";
  Subprocess agent({BinaryPath("cohort-agent"), "--config=" + missing},
                   dir_ + "/agent.log");
  ExpectSetupFailureNaming(agent, missing);
}

TEST_F(MissingPathsTest, AgentWithoutItsCertificate) {
  AgentOverrides o;
  o.cert_pki = dir_ + "/no-pki";
  auto agent = StartAgent(0, 1, "it", o);
  ExpectSetupFailureNaming(*agent, dir_ + "/no-pki/device-0.crt");
}

TEST_F(MissingPathsTest, AgentWhoseStateDirectoryIsAFile) {
  const std::string state = dir_ + "/device-0-state";  // the fixture's
  PutFileAt(state);
  auto agent = StartAgent(0, 1, "it");
  ExpectSetupFailureNaming(*agent, state);
  EXPECT_NE(agent->Log().find("state_dir"), std::string::npos);
}

}  // namespace
}  // namespace cohort::testing
