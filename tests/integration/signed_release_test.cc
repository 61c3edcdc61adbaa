// Signed releases end to end: a real cohort-server signing every committed
// version with its release key, agents that pin the root, and one agent
// that pins a different root and so refuses every model.

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/crypto/hex.h"
#include "common/model/signing.h"
#include "common/model/trust.h"
#include "server/store/postgres_store.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/testing/pg_env.h"
#include "tests/testing/test_keys.h"

namespace cohort::testing {
namespace {

class SignedReleaseTest : public ClusterTest {
 protected:
  void SetUp() override {
    dsn_ = PgDsn();
    if (dsn_.empty()) COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is not set");
    ClusterTest::SetUp();
    // What `cohortctl keys generate` and `certify` write.
    Write(dir_ + "/root-1.pb", keys_.Root().SerializeAsString());
    Write(dir_ + "/release-key.seed", crypto::BytesToHex(keys_.release.seed()));
    Write(dir_ + "/release-key.cert.pb", keys_.Certificate().SerializeAsString());
    TestKeys stranger;
    stranger.roots = {TestKey(7), TestKey(8), TestKey(9)};
    Write(dir_ + "/other-root.pb", stranger.Root().SerializeAsString());
  }

  static void Write(const std::string& path, const std::string& bytes) {
    ASSERT_TRUE(base::WriteFileAtomically(path, bytes).ok()) << path;
  }

  AgentOverrides Pinned(const std::string& root) const {
    AgentOverrides o;
    o.extra = absl::StrCat("trust { root_path: \"", dir_, "/", root, "\" }");
    return o;
  }

  std::string Held(int index) const {
    return base::ReadFile(absl::StrCat(dir_, "/device-", index, "-state/release"))
        .value_or("none");
  }

  std::string dsn_;
  TestKeys keys_;
};

TEST_F(SignedReleaseTest, PinnedAgentsTrainOnSignedReleasesAStrangerRefusesThem) {
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn_, "\"");
  o.task = UniqueTask();
  o.max_rounds = 2;
  o.extra = absl::StrCat("signing { release_key_path: \"", dir_,
                         "/release-key.seed\" certificate_path: \"", dir_,
                         "/release-key.cert.pb\" }");
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  // The stranger starts first, so the first round's over-selection takes it.
  auto stranger = StartAgent(3, port, o.task, Pinned("other-root.pb"));
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(StartAgent(i, port, o.task, Pinned("root-1.pb")));
  }
  auto code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not finish:\n" << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  stranger->Signal(SIGTERM);
  for (auto& a : agents) a->Signal(SIGTERM);
  for (auto& a : agents) ASSERT_TRUE(a->Wait(absl::Seconds(30)).has_value());
  ASSERT_TRUE(stranger->Wait(absl::Seconds(30)).has_value());

  // Release n publishes version n: the agents trained on release 2 last.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Held(i), "2\n") << agents[i]->Log();
  EXPECT_EQ(Held(3), "none");
  EXPECT_NE(stranger->Log().find("refused the assigned model"), std::string::npos)
      << stranger->Log();

  // Every stored release verifies on a device pinning the root.
  auto store = server::PostgresStore::Connect(dsn_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto releases = (*store)->ListReleases(o.task);
  ASSERT_TRUE(releases.ok()) << releases.status();
  ASSERT_EQ(releases->size(), 3u);  // versions 1, 2 and 3
  auto root = model::TrustedRoot::FromPinned(keys_.Root());
  ASSERT_TRUE(root.ok());
  for (const server::ReleaseRecord& r : *releases) {
    cohort::v1::SignedManifest signed_manifest;
    ASSERT_TRUE(signed_manifest.ParseFromString(r.signed_manifest));
    auto m = model::VerifyManifest(*root, signed_manifest,
                                   {o.task, 0, absl::Now()});
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->release(), r.release);
    EXPECT_EQ(m->version(), r.version);
    EXPECT_EQ(r.version, r.release);
  }
}

// After a root rotation the coordinator serves root 2 with its manifests
// and signs with a key only root 2 certified: agents pinned to root 1
// follow the rotation and keep training, without being touched.
TEST_F(SignedReleaseTest, AgentsPinnedToTheOldRootFollowARotation) {
  const std::vector<crypto::Ed25519PrivateKey> next = {TestKey(4), TestKey(5)};
  cohort::v1::RootMetadata r;
  r.set_version(2);
  for (const auto& k : next) r.add_keys(RawKey(k));
  r.set_threshold(2);
  r.set_expires_at_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Hours(24)));
  std::vector<crypto::Ed25519PrivateKey> signers = {keys_.roots[0],
                                                    keys_.roots[2]};
  signers.insert(signers.end(), next.begin(), next.end());
  Write(dir_ + "/root-2.pb", model::SignRoot(r, signers).SerializeAsString());
  const crypto::Ed25519PrivateKey release = TestKey(12);
  cohort::v1::ReleaseKeyCertificate c;
  c.set_key(RawKey(release));
  c.set_root_version(2);
  c.set_expires_at_unix_ms(r.expires_at_unix_ms());
  Write(dir_ + "/release-2.seed", crypto::BytesToHex(release.seed()));
  Write(dir_ + "/release-2.cert.pb",
        model::CertifyReleaseKey(c, next).SerializeAsString());

  ServerOptions o = DirectoryServer();
  o.max_rounds = 1;
  o.extra = absl::StrCat("signing { release_key_path: \"", dir_,
                         "/release-2.seed\" certificate_path: \"", dir_,
                         "/release-2.cert.pb\" root_paths: \"", dir_,
                         "/root-2.pb\" }");
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(StartAgent(i, port, o.task, Pinned("root-1.pb")));
  }
  auto code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not finish:\n" << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  for (auto& a : agents) a->Signal(SIGTERM);
  for (auto& a : agents) ASSERT_TRUE(a->Wait(absl::Seconds(30)).has_value());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Held(i), "1\n") << agents[i]->Log();
    auto followed = base::ReadFile(absl::StrCat(dir_, "/device-", i, "-state/root.pb"));
    ASSERT_TRUE(followed.ok()) << agents[i]->Log();
    cohort::v1::SignedRoot root;
    cohort::v1::RootMetadata metadata;
    ASSERT_TRUE(root.ParseFromString(*followed) &&
                metadata.ParseFromString(root.root()));
    EXPECT_EQ(metadata.version(), 2);
  }
}

}  // namespace
}  // namespace cohort::testing
