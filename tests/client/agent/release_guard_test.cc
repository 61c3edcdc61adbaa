// The device's release policy: what it accepts, what it refuses, and that
// the highest release it accepted survives a restart.

#include "client/agent/release_guard.h"

#include <filesystem>
#include <string>

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

TEST_F(ReleaseGuardTest, BadRootOrReleaseFileStopsTheAgentFromStarting) {
  EXPECT_EQ(ReleaseGuard::Open(dir_ + "/missing.pb", state_dir_).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(base::WriteFileAtomically(dir_ + "/junk.pb", "junk").ok());
  EXPECT_FALSE(ReleaseGuard::Open(dir_ + "/junk.pb", state_dir_).ok());
  std::filesystem::create_directories(state_dir_);
  ASSERT_TRUE(base::WriteFileAtomically(state_dir_ + "/release", "x7\n").ok());
  EXPECT_EQ(ReleaseGuard::Open(root_path_, state_dir_).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cohort::client
