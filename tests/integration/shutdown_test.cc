// Shutdown paths of the real binaries: a termination signal that arrives
// while a process is already exiting must not crash it.

#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

using ShutdownTest = ClusterTest;

// True once `pid` has a handler for SIGTERM (bit 14 of SigCgt in
// /proc/<pid>/status), i.e. main() got past installing it.
bool CatchesSigterm(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("SigCgt:", 0) != 0) continue;
    return (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
  }
  return false;
}

// Sends SIGTERM every millisecond until `p` exits; its exit code.
std::optional<int> TerminateRepeatedly(Subprocess& p) {
  for (int i = 0; i < 20000 && p.running(); ++i) {
    p.Signal(SIGTERM);
    absl::SleepFor(absl::Milliseconds(1));
  }
  return p.Wait(absl::Seconds(30));
}

TEST_F(ShutdownTest, AgentWithEmptyShardSurvivesSigtermWhileExiting) {
  // 1,500 examples in 3,000 IID shards: the last shard holds none, so the
  // agent exits at start-up with exit code 2 and a clear message. A SIGTERM
  // at any instant of that exit used to hit a signal thread that read
  // main()'s destroyed locals (SIGSEGV in about 1 of 4 runs).
  const std::string config_path = dir_ + "/empty-shard.textproto";
  {
    std::ofstream(config_path) << absl::StrFormat(
        R"(server_address: "127.0.0.1:1"
tls { ca_cert_path: "%s/ca.crt" }
device_id: "empty"
data { idx_dir: "%s" }
partition { scheme: IID num_shards: 3000 shard_index: 2999 seed: 5 }
state_dir: "%s/empty-state"
)",
        pki_dir_, data_dir_, dir_);
  }
  for (int run = 0; run < 12; ++run) {
    Subprocess agent({BinaryPath("cohort-agent"), "--config=" + config_path},
                     absl::StrCat(dir_, "/empty-", run, ".log"));
    // From the moment the handler exists, with a staggered extra delay, so
    // that the signals land at every point of the rest of its short life.
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (absl::Now() < give_up && agent.running() &&
           !CatchesSigterm(agent.pid())) {
      absl::SleepFor(absl::Microseconds(200));
    }
    absl::SleepFor(absl::Milliseconds(15 * run));
    auto code = TerminateRepeatedly(agent);
    ASSERT_TRUE(code.has_value()) << agent.Log();
    // A crash would be 139 (SIGSEGV) or 134 (SIGABRT).
    EXPECT_EQ(*code, 2) << "run " << run << "\n" << agent.Log();
    EXPECT_NE(agent.Log().find("no examples"), std::string::npos) << agent.Log();
  }
}

TEST_F(ShutdownTest, ServerStopsCleanlyUnderRepeatedSigterm) {
  ServerOptions o = DirectoryServer();
  o.max_rounds = 0;
  for (int run = 0; run < 3; ++run) {
    auto server = StartServer(o, absl::StrCat("server", run));
    ASSERT_GT(WaitForPort(*server, absl::StrCat("server", run)), 0)
        << server->Log();
    auto code = TerminateRepeatedly(*server);
    ASSERT_TRUE(code.has_value()) << server->Log();
    EXPECT_EQ(*code, 0) << server->Log();
  }
}

}  // namespace
}  // namespace cohort::testing
