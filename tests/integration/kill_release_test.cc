// kill -9 during signed releases, on both stores: the coordinator and its
// agents are killed at staggered moments of a run of rounds (storing a
// version, signing, appending the release, serving), again and again. After
// every kill the store holds a release log that is whole: numbered 1..N with
// no gap, the current release the newest, every manifest verifying against
// the pinned root and naming a stored, not held, version; no release is
// lost across kills; and the next start makes progress. A point-by-point
// fault-injection matrix is in the reliability issue; this is the real
// process, killed by the kernel.

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/model/trust.h"
#include "server/store/directory_store.h"
#include "server/store/postgres_store.h"
#include "tests/integration/admin_fixture.h"
#include "tests/testing/pg_env.h"

namespace cohort::testing {
namespace {

class KillReleaseTest : public AdminTest {
 protected:
  using OpenStore = std::function<std::unique_ptr<server::Store>()>;

  // The release log of `task` is whole; returns its newest number.
  int64_t ExpectWholeLog(server::Store& store, const std::string& task) {
    auto releases = store.ListReleases(task);
    EXPECT_TRUE(releases.ok()) << releases.status();
    if (!releases.ok()) return 0;
    auto root = model::TrustedRoot::FromPinned(keys_.Root());
    EXPECT_TRUE(root.ok()) << root.status();
    if (!root.ok()) return 0;
    for (size_t i = 0; i < releases->size(); ++i) {
      const server::ReleaseRecord& r = (*releases)[i];
      EXPECT_EQ(r.release, static_cast<int64_t>(i) + 1) << "gap in the log";
      cohort::v1::SignedManifest signed_manifest;
      EXPECT_TRUE(signed_manifest.ParseFromString(r.signed_manifest));
      auto m = model::VerifyManifest(*root, signed_manifest,
                                     {task, 0, absl::Now()});
      EXPECT_TRUE(m.ok()) << "release " << r.release << ": " << m.status();
      if (m.ok()) {
        EXPECT_EQ(m->release(), r.release);
        EXPECT_EQ(m->version(), r.version);
      }
      auto version = store.GetVersion(task, r.version);
      EXPECT_TRUE(version.ok()) << version.status();
      if (version.ok()) EXPECT_FALSE(version->held);
    }
    auto current = store.GetCurrentRelease(task);
    EXPECT_TRUE(current.ok() && current->has_value());
    const int64_t newest = releases->empty() ? 0 : releases->back().release;
    if (current.ok() && current->has_value()) {
      EXPECT_EQ((*current)->release, newest);
    }
    return newest;
  }

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
      const int64_t newest = ExpectWholeLog(*after, o.task);
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
