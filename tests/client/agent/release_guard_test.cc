// The device's release policy: what it accepts, what it refuses, and that
// the highest release it accepted survives a restart.

#include "client/agent/release_guard.h"

#include <filesystem>
#include <string>
#include <utility>

#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"
#include "gtest/gtest.h"
#include "tests/testing/test_keys.h"

namespace cohort::client {
namespace {

class ReleaseGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/release_guard_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    root_path_ = dir_ + "/root-1.pb";
    ASSERT_TRUE(base::WriteFileAtomically(root_path_,
                                          keys_.Root().SerializeAsString()).ok());
    state_dir_ = dir_ + "/state";
  }

  // The assignment's reference to `artifact` under release `release`.
  cohort::v1::ModelRef Ref(int64_t release, const std::string& artifact) {
    cohort::v1::ModelManifest m;
    m.set_task("t");
    m.set_version(release + 10);
    m.set_release(release);
    m.set_architecture("small_cnn");
    m.set_expires_at_unix_ms(absl::ToUnixMillis(keys_.now + absl::Hours(1)));
    auto* a = m.add_artifacts();
    a->set_kind("int8");
    a->set_sha256(crypto::Sha256Hex(artifact));
    a->set_size_bytes(static_cast<int64_t>(artifact.size()));
    cohort::v1::ModelRef ref;
    ref.set_version(m.version());
    ref.set_architecture("small_cnn");
    ref.set_sha256(a->sha256());
    ref.set_size_bytes(a->size_bytes());
    *ref.mutable_manifest() =
        model::SignManifest(m, keys_.release, keys_.Certificate());
    return ref;
  }

  std::unique_ptr<ReleaseGuard> Open() {
    auto guard = ReleaseGuard::Open(root_path_, state_dir_);
    EXPECT_TRUE(guard.ok()) << guard.status();
    return guard.ok() ? *std::move(guard) : nullptr;
  }

  testing::TestKeys keys_;
  std::string dir_, root_path_, state_dir_;
};

TEST_F(ReleaseGuardTest, AcceptsASignedReleaseAndKeepsItsNumberAcrossRestarts) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  auto m = guard->Check(Ref(3, "weights"), "t", keys_.now);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(guard->Accept(*m).ok());
  EXPECT_EQ(guard->highest_release(), 3);

  auto restarted = Open();
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(restarted->highest_release(), 3);
  // A replay of an older release is refused after the restart too.
  EXPECT_EQ(restarted->Check(Ref(2, "weights"), "t", keys_.now).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(restarted->refusals(), 1);
  EXPECT_TRUE(restarted->Check(Ref(3, "weights"), "t", keys_.now).ok());
}

TEST_F(ReleaseGuardTest, RefusesWhatTheCoordinatorCannotProve) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  cohort::v1::ModelRef unsigned_ref = Ref(1, "weights");
  unsigned_ref.clear_manifest();
  EXPECT_EQ(guard->Check(unsigned_ref, "t", keys_.now).status().code(),
            absl::StatusCode::kUnauthenticated);
  cohort::v1::ModelRef tampered = Ref(1, "weights");
  (*tampered.mutable_manifest()->mutable_manifest())[3] ^= 0x01;
  EXPECT_EQ(guard->Check(tampered, "t", keys_.now).status().code(),
            absl::StatusCode::kUnauthenticated);
  // The assignment names an artifact the signed manifest does not list.
  cohort::v1::ModelRef substituted = Ref(1, "weights");
  substituted.set_sha256(crypto::Sha256Hex("other weights"));
  EXPECT_EQ(guard->Check(substituted, "t", keys_.now).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(guard->Check(Ref(1, "weights"), "t",
                         keys_.now + absl::Hours(2)).status().code(),
            absl::StatusCode::kFailedPrecondition);  // expired
  EXPECT_EQ(guard->Check(Ref(1, "weights"), "other", keys_.now).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(guard->refusals(), 5);
  EXPECT_EQ(guard->highest_release(), 0);
}

// The pinned root is configuration: without a usable one the agent does
// not start.
TEST_F(ReleaseGuardTest, MissingOrBadPinnedRootStopsTheAgentFromStarting) {
  EXPECT_EQ(ReleaseGuard::Open(dir_ + "/missing.pb", state_dir_).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(base::WriteFileAtomically(dir_ + "/junk.pb", "junk").ok());
  EXPECT_FALSE(ReleaseGuard::Open(dir_ + "/junk.pb", state_dir_).ok());
}

// State files are not: a bad one is moved aside, and the release counter
// comes back from the kept signed manifest, so a replay stays refused.
TEST_F(ReleaseGuardTest, CorruptReleaseFileIsRecoveredFromTheKeptManifest) {
  {
    auto guard = Open();
    ASSERT_NE(guard, nullptr);
    auto m = guard->Check(Ref(5, "weights"), "t", keys_.now);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(guard->Accept(*m).ok());
  }
  ASSERT_TRUE(std::filesystem::exists(state_dir_ + "/manifest.pb"));
  ASSERT_TRUE(base::WriteFileAtomically(state_dir_ + "/release", "x7\n").ok());
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  EXPECT_EQ(guard->highest_release(), 5);
  EXPECT_TRUE(std::filesystem::exists(state_dir_ + "/release.corrupt"));
  EXPECT_EQ(guard->Check(Ref(4, "weights"), "t", keys_.now).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReleaseGuardTest, ReleaseFileAheadOfATamperedManifestKeepsItsNumber) {
  {
    auto guard = Open();
    ASSERT_NE(guard, nullptr);
    auto m = guard->Check(Ref(2, "weights"), "t", keys_.now);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(guard->Accept(*m).ok());
  }
  // A kept manifest whose signature fails is not believed, even when it
  // claims a higher release.
  auto bytes = base::ReadFile(state_dir_ + "/manifest.pb");
  ASSERT_TRUE(bytes.ok());
  std::string tampered = *bytes;
  tampered[tampered.size() / 2] ^= 0x20;
  ASSERT_TRUE(base::WriteFileAtomically(state_dir_ + "/manifest.pb", tampered).ok());
  ASSERT_TRUE(base::WriteFileAtomically(state_dir_ + "/release", "3\n").ok());
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  EXPECT_EQ(guard->highest_release(), 3);
  EXPECT_TRUE(std::filesystem::exists(state_dir_ + "/manifest.pb.corrupt"));
}

// Where no fallback is safe, the guard does not open, names the file and
// leaves it for the operator: a damaged followed root (the pinned one would
// trust revoked keys again), or a damaged release counter with no kept
// manifest to recover it from (starting from 0 would accept replays).
TEST_F(ReleaseGuardTest, CorruptFilesWithoutASafeFallbackStopTheAgent) {
  for (const auto& [file, junk] : {std::pair{"root.pb", "junk"},
                                   std::pair{"release", "x7\n"}}) {
    std::filesystem::remove_all(state_dir_);
    std::filesystem::create_directories(state_dir_);
    const std::string path = state_dir_ + "/" + file;
    ASSERT_TRUE(base::WriteFileAtomically(path, junk).ok());
    const absl::Status s = ReleaseGuard::Open(root_path_, state_dir_).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << file;
    EXPECT_NE(s.message().find(path), std::string::npos) << s;
    EXPECT_TRUE(std::filesystem::exists(path)) << file;
  }
}

// A state directory from before manifests were kept gets its backup the
// next time the device takes the release it already holds.
TEST_F(ReleaseGuardTest, TheSameReleaseAgainWritesAMissingManifest) {
  std::filesystem::create_directories(state_dir_);
  ASSERT_TRUE(base::WriteFileAtomically(state_dir_ + "/release", "3\n").ok());
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  auto m = guard->Check(Ref(3, "weights"), "t", keys_.now);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(guard->Accept(*m).ok());
  EXPECT_TRUE(std::filesystem::exists(state_dir_ + "/manifest.pb"));
  ASSERT_TRUE(base::WriteFileAtomically(state_dir_ + "/release", "x\n").ok());
  auto recovered = Open();
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(recovered->highest_release(), 3);
}

// Root 2: two new keys, signed by root 1's threshold and its own.
cohort::v1::SignedRoot RootTwo(const testing::TestKeys& keys,
                               const std::vector<crypto::Ed25519PrivateKey>& next) {
  cohort::v1::RootMetadata r;
  r.set_version(2);
  for (const auto& k : next) r.add_keys(testing::RawKey(k));
  r.set_threshold(2);
  r.set_expires_at_unix_ms(absl::ToUnixMillis(keys.now + absl::Hours(24)));
  std::vector<crypto::Ed25519PrivateKey> signers = {keys.roots[0], keys.roots[1]};
  signers.insert(signers.end(), next.begin(), next.end());
  return model::SignRoot(r, signers);
}

TEST_F(ReleaseGuardTest, FollowsARootRotationThatComesWithTheManifestAndKeepsIt) {
  const std::vector<crypto::Ed25519PrivateKey> next = {testing::TestKey(4),
                                                       testing::TestKey(5)};
  // The coordinator's new release key, certified by root 2 only.
  testing::TestKeys rotated = keys_;
  rotated.roots = next;
  rotated.release = testing::TestKey(11);
  cohort::v1::ReleaseKeyCertificate c;
  c.set_key(testing::RawKey(rotated.release));
  c.set_root_version(2);
  c.set_expires_at_unix_ms(absl::ToUnixMillis(keys_.now + absl::Hours(24)));
  const auto cert = model::CertifyReleaseKey(c, next);
  cohort::v1::ModelRef ref = Ref(5, "weights");
  cohort::v1::ModelManifest m;
  ASSERT_TRUE(m.ParseFromString(ref.manifest().manifest()));
  *ref.mutable_manifest() = model::SignManifest(m, rotated.release, cert);

  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  // Without the rotation the new key is not the device's root's.
  EXPECT_EQ(guard->Check(ref, "t", keys_.now).status().code(),
            absl::StatusCode::kUnauthenticated);
  *ref.mutable_manifest()->add_roots() = RootTwo(keys_, next);
  ASSERT_TRUE(guard->Check(ref, "t", keys_.now).ok());
  EXPECT_EQ(guard->root_version(), 2);
  // The followed root survives a restart; the pinned file is still root 1.
  auto restarted = Open();
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(restarted->root_version(), 2);
}

TEST_F(ReleaseGuardTest, ARotationSignedByTheNewKeysAloneIsRefused) {
  const std::vector<crypto::Ed25519PrivateKey> next = {testing::TestKey(4),
                                                       testing::TestKey(5)};
  cohort::v1::RootMetadata r;
  r.set_version(2);
  for (const auto& k : next) r.add_keys(testing::RawKey(k));
  r.set_threshold(2);
  r.set_expires_at_unix_ms(absl::ToUnixMillis(keys_.now + absl::Hours(24)));
  cohort::v1::ModelRef ref = Ref(1, "weights");
  *ref.mutable_manifest()->add_roots() = model::SignRoot(r, next);
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  EXPECT_EQ(guard->Check(ref, "t", keys_.now).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(guard->root_version(), 1);
  EXPECT_FALSE(std::filesystem::exists(state_dir_ + "/root.pb"));
}

}  // namespace
}  // namespace cohort::client
