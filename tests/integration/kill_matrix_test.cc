// The kill -9 matrix: the coordinator is killed at each point of a round
// and an agent at each point of its cycle, on both stores, with signed
// releases. Each point is hit exactly: COHORT_KILL_AT (common/base/
// kill_point.h) makes the process send itself SIGKILL on its n-th arrival
// there. After the kill the store's history must be whole; after a
// restart nothing stored before the kill may be lost or rewritten, every
// stored version must be released once and in order, the next round must
// commit, and every agent must accept (so verify) its release.
//
// Arrivals are counted from the start of the killed process: with a fresh
// store the initial model is version 1 (stored, signed and released once),
// and rounds are of three devices, so "#4" of a per-device point and "#2"
// or "#3" of a per-round point fall in the second round.

#include <signal.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/base/kill_point.h"
#include "server/store/directory_store.h"
#include "server/store/postgres_store.h"
#include "tests/integration/admin_fixture.h"
#include "tests/integration/store_history.h"
#include "tests/testing/pg_env.h"

namespace cohort::testing {
namespace {

enum class StoreKind { kDirectory, kPostgres };

struct KillCase {
  bool agent;        // false: the coordinator is killed
  const char* spec;  // COHORT_KILL_AT
  bool secure;       // rounds under SecAgg+ (else plain FedAvg)
};

void PrintTo(StoreKind kind, std::ostream* os) {
  *os << (kind == StoreKind::kDirectory ? "directory store" : "PostgreSQL store");
}
void PrintTo(const KillCase& c, std::ostream* os) { *os << c.spec; }

constexpr int kAgents = 3;

class KillMatrixTest
    : public AdminTest,
      public ::testing::WithParamInterface<std::tuple<StoreKind, KillCase>> {
 protected:
  StoreKind kind() const { return std::get<0>(GetParam()); }
  const KillCase& kill() const { return std::get<1>(GetParam()); }

  ServerOptions Options() {
    ServerOptions o;
    if (kind() == StoreKind::kDirectory) {
      o = DirectoryServer();
      o.task = "killed";
    } else {
      o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", PgDsn(), "\"");
      o.task = UniqueTask();
    }
    o.goal = kAgents;
    o.max_rounds = 1000;
    o.extra = SigningConfig();
    if (kill().secure) {
      o.secure = true;
      o.round_extra =
          "secure_aggregation { enabled: true phase_timeout_ms: 30000 }";
    }
    return o;
  }

  std::unique_ptr<server::Store> OpenStore() {
    if (kind() == StoreKind::kDirectory) {
      auto store = server::DirectoryStore::Open(dir_ + "/state");
      EXPECT_TRUE(store.ok()) << store.status();
      return store.ok() ? std::move(*store) : nullptr;
    }
    auto store = server::PostgresStore::Connect(PgDsn());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static std::vector<std::string> Armed(const char* spec) {
    return {"/usr/bin/env", absl::StrCat("COHORT_KILL_AT=", spec)};
  }

  std::unique_ptr<Subprocess> StartArmedAgent(int index, int port,
                                              const std::string& task,
                                              bool armed) {
    AgentOverrides o = Pinned();
    if (armed) o.launcher = Armed(kill().spec);
    return StartAgent(index, port, task, o);
  }

  // Waits for `victim` to die of its kill point.
  static void ExpectKilledAtThePoint(Subprocess& victim, const char* spec) {
    const std::optional<int> code = victim.Wait(absl::Seconds(120));
    ASSERT_TRUE(code.has_value())
        << spec << " was not reached in 120 s\n" << victim.Log();
    ASSERT_EQ(*code, 128 + SIGKILL) << victim.Log();
    const std::optional<base::KillSpec> point = base::ParseKillSpec(spec);
    ASSERT_TRUE(point.has_value()) << spec;
    EXPECT_NE(victim.Log().find(absl::StrCat("kill point ", point->point,
                                             " reached (arrival ",
                                             point->hit, ")")),
              std::string::npos)
        << "killed, but not by " << spec << "\n" << victim.Log();
  }

  static void Stop(Subprocess& p, const char* what) {
    p.Signal(SIGTERM);
    const std::optional<int> code = p.Wait(absl::Seconds(60));
    EXPECT_TRUE(code.has_value()) << what << " did not stop\n" << p.Log();
  }

  // True once a version newer than every one in `before` is released and
  // every agent holds that release or a newer one.
  bool NextRoundReleasedAndHeld(server::Store& store, const std::string& task,
                                const StoreHistory& before) {
    auto current = store.GetCurrentRelease(task);
    if (!current.ok() || !current->has_value()) return false;
    const int64_t newest_before =
        before.versions.empty() ? 0 : before.versions.rbegin()->first;
    if ((*current)->version <= newest_before) return false;
    for (int i = 0; i < kAgents; ++i) {
      if (Held(i) < (*current)->release) return false;
    }
    return true;
  }
};

TEST_P(KillMatrixTest, NothingStoredIsLostAndTheNextRoundCommits) {
  if (kind() == StoreKind::kPostgres && PgDsn().empty()) {
    COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is not set");
  }
  ServerOptions o = Options();
  if (!kill().agent) o.launcher = Armed(kill().spec);
  auto server = StartServer(o, "server-killed");
  int port = WaitForPort(*server, "server-killed");
  ASSERT_GT(port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(StartArmedAgent(i, port, o.task, kill().agent && i == 0));
  }

  Subprocess& victim = kill().agent ? *agents[0] : *server;
  ExpectKilledAtThePoint(victim, kill().spec);
  if (HasFatalFailure()) return;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const StoreHistory before = ExpectWholeHistory(*store, o.task, keys_.Root(),
                                                 /*every_version_released=*/false);
  // Each point is armed past its first round, so there is a committed
  // round to lose.
  EXPECT_GE(before.versions.size(), 2u) << kill().spec;
  int64_t held[kAgents];
  for (int i = 0; i < kAgents; ++i) held[i] = Held(i);

  // Restart what was killed, without the kill point.
  if (kill().agent) {
    agents[0] = StartArmedAgent(0, port, o.task, /*armed=*/false);
  } else {
    for (auto& a : agents) Stop(*a, "an agent");
    o.launcher.clear();
    server = StartServer(o, "server-resumed");
    port = WaitForPort(*server, "server-resumed");
    ASSERT_GT(port, 0) << server->Log();
    for (int i = 0; i < kAgents; ++i) {
      agents[i] = StartArmedAgent(i, port, o.task, /*armed=*/false);
    }
  }
  const bool resumed = PollUntil(absl::Seconds(120), [&] {
    return NextRoundReleasedAndHeld(*store, o.task, before);
  });
  EXPECT_TRUE(resumed) << "no new round released to every agent in 120 s\n"
                       << server->Log() << "\n" << agents[0]->Log();

  for (auto& a : agents) Stop(*a, "an agent");
  Stop(*server, "the coordinator");
  for (int i = 0; i < kAgents; ++i) {
    EXPECT_GE(Held(i), held[i]) << "device-" << i << " lost its release";
    EXPECT_GT(Held(i), 0) << "device-" << i << " holds no verified release";
  }
  const StoreHistory after = ExpectWholeHistory(*store, o.task, keys_.Root(),
                                                /*every_version_released=*/true);
  ExpectKept(before, after);
  EXPECT_GT(after.versions.size(), before.versions.size());
}

// Coordinator points, in a round's order. The SecAgg+ points are the
// server's phase when a client message arrives.
constexpr KillCase kCases[] = {
    {false, "server.selection#4", false},
    {false, "server.report#4", false},
    {false, "server.secagg.AdvertiseKeys#4", true},
    {false, "server.secagg.ShareKeys#4", true},
    {false, "server.secagg.MaskedInputCollection#4", true},
    {false, "server.secagg.Unmasking#4", true},
    {false, "server.aggregated#2", false},
    {false, "server.evaluated#2", false},
    {false, "server.version_stored#3", false},
    {false, "server.signed#3", false},
    {false, "server.released#3", false},
    // Agent points, in its cycle's order. The SecAgg+ points follow the
    // client's answer in each phase and are named by the phase it moved to.
    {true, "agent.checked_in#2", false},
    {true, "agent.model_fetched#2", false},
    {true, "agent.release_accepted#2", false},
    {true, "agent.trained#2", false},
    {true, "agent.reported#2", false},
    {true, "agent.secagg.ShareKeys#2", true},
    {true, "agent.secagg.MaskedInputCollection#2", true},
    {true, "agent.secagg.Unmasking#2", true},
    {true, "agent.secagg.Completed#2", true},
};

std::string CaseName(
    const ::testing::TestParamInfo<std::tuple<StoreKind, KillCase>>& info) {
  const char* store =
      std::get<0>(info.param) == StoreKind::kDirectory ? "Directory" : "Postgres";
  return absl::StrCat(store, "_",
                      absl::StrReplaceAll(std::get<1>(info.param).spec,
                                          {{".", "_"}, {"#", "_at_"}}));
}

INSTANTIATE_TEST_SUITE_P(
    EveryPoint, KillMatrixTest,
    ::testing::Combine(::testing::Values(StoreKind::kDirectory,
                                         StoreKind::kPostgres),
                       ::testing::ValuesIn(kCases)),
    CaseName);

}  // namespace
}  // namespace cohort::testing
