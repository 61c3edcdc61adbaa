// kill -9 during signed releases, on both stores: the coordinator and its
// agents are killed at staggered moments of a run of rounds (storing a
// version, signing, appending the release, serving), again and again. After
// every kill the store holds a release log that is whole: numbered 1..N with
// no gap, the current release the newest, every manifest verifying against
// the pinned root and naming a stored, not held, version; no release is
// lost across kills; and the next start makes progress. A point-by-point
// kill at each named point of a round is kill_matrix_test.cc; this is the
// real process, killed by the kernel at moments it does not choose.

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/store/directory_store.h"
#include "server/store/postgres_store.h"
#include "tests/integration/admin_fixture.h"
#include "tests/integration/store_history.h"
#include "tests/testing/pg_env.h"

namespace cohort::testing {
namespace {

class KillReleaseTest : public AdminTest {
 protected:
  using OpenStore = std::function<std::unique_ptr<server::Store>()>;

  // Runs the cluster `kills` times, killing everything with SIGKILL at a
  // different moment after each new release, and checks the store after
  // each kill.
  void KillRepeatedly(ServerOptions o, const OpenStore& open, int kills) {
    o.max_rounds = 1000;
    o.extra = SigningConfig();
    int64_t released = 0;
    for (int k = 0; k < kills; ++k) {
      auto server = StartServer(o, absl::StrCat("server-", k));
      const int port = WaitForPort(*server, absl::StrCat("server-", k));
      ASSERT_GT(port, 0) << server->Log();
      std::vector<std::unique_ptr<Subprocess>> agents;
      for (int i = 0; i < 3; ++i) {
        agents.push_back(StartAgent(i, port, o.task, Pinned()));
      }
      auto store = open();
      ASSERT_NE(store, nullptr);
      const bool progressed = PollUntil(absl::Seconds(90), [&] {
        auto current = store->GetCurrentRelease(o.task);
        return current.ok() && current->has_value() &&
               (*current)->release > released;
      });
      ASSERT_TRUE(progressed) << "kill " << k << ": no new release in 90 s\n"
                              << server->Log();
      // Staggered: the kill lands at a different step of the next round.
      absl::SleepFor(absl::Milliseconds(90 + 233 * k));
      server->Signal(SIGKILL);
      for (auto& a : agents) a->Signal(SIGKILL);
      ASSERT_TRUE(server->Wait(absl::Seconds(30)).has_value());
      for (auto& a : agents) ASSERT_TRUE(a->Wait(absl::Seconds(30)).has_value());
      store.reset();
      auto after = open();
      ASSERT_NE(after, nullptr);
      const int64_t newest =
          ExpectWholeHistory(*after, o.task, keys_.Root(),
                             /*every_version_released=*/false)
              .newest_release();
      EXPECT_GE(newest, released) << "kill " << k << " lost a release";
      released = newest;
    }
    // Every agent holds a verified release it accepted before a kill.
    for (int i = 0; i < 3; ++i) EXPECT_GT(Held(i), 0) << "device-" << i;
  }
};

TEST_F(KillReleaseTest, DirectoryStoreKeepsAWholeReleaseLog) {
  ServerOptions o = DirectoryServer();
  o.task = "killed";
  const std::string root = dir_ + "/state";
  KillRepeatedly(
      o,
      [&]() -> std::unique_ptr<server::Store> {
        auto store = server::DirectoryStore::Open(root);
        EXPECT_TRUE(store.ok()) << store.status();
        return store.ok() ? std::move(*store) : nullptr;
      },
      5);
}

TEST_F(KillReleaseTest, PostgresStoreKeepsAWholeReleaseLog) {
  const std::string dsn = PgDsn();
  if (dsn.empty()) {
    COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is not set");
  }
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn, "\"");
  o.task = UniqueTask();
  KillRepeatedly(
      o,
      [&]() -> std::unique_ptr<server::Store> {
        auto store = server::PostgresStore::Connect(dsn);
        EXPECT_TRUE(store.ok()) << store.status();
        return store.ok() ? std::move(*store) : nullptr;
      },
      5);
}

}  // namespace
}  // namespace cohort::testing
