// What a restarted agent serves before its next round: the model in its
// state directory, and only the one its signed release vouches for.

#include "client/agent/held_model.h"

#include <filesystem>
#include <string>

#include "client/agent/last_round.h"
#include "client/agent/model_cache.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_tree.h"
#include "tests/testing/test_keys.h"

namespace cohort::client {
namespace {

class HeldModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("held_model");
    state_dir_ = dir_ + "/state";
    std::filesystem::create_directories(state_dir_);
    root_path_ = dir_ + "/root.pb";
    ASSERT_TRUE(base::WriteFileAtomically(root_path_,
                                          keys_.Root().SerializeAsString())
                    .ok());
    cohort::v1::Tensor* t = weights_.add_tensors();
    t->set_name("fc.weight");
    t->set_dtype(cohort::v1::DTYPE_FLOAT32);
    t->add_shape(1);
    t->set_data(std::string(4, '\0'));
    bytes_ = weights_.SerializeAsString();
  }

  void Hold(const std::string& bytes) {
    ASSERT_TRUE(base::WriteFileAtomically(ModelCache::ModelPath(state_dir_),
                                          bytes)
                    .ok());
    ASSERT_TRUE(base::WriteFileAtomically(
                    ModelCache::ArchitecturePath(state_dir_), "mlp")
                    .ok());
  }

  // A guard that has accepted release 4 (version 9) of bytes_.
  std::unique_ptr<ReleaseGuard> GuardHoldingRelease() {
    cohort::v1::ModelManifest m;
    m.set_task("t");
    m.set_version(9);
    m.set_release(4);
    m.set_architecture("mlp");
    m.set_expires_at_unix_ms(absl::ToUnixMillis(keys_.now + absl::Hours(1)));
    cohort::v1::ArtifactDigest* a = m.add_artifacts();
    a->set_kind("fp32");
    a->set_sha256(crypto::Sha256Hex(bytes_));
    a->set_size_bytes(static_cast<int64_t>(bytes_.size()));
    cohort::v1::ModelRef ref;
    ref.set_version(9);
    ref.set_architecture("mlp");
    ref.set_sha256(a->sha256());
    ref.set_size_bytes(a->size_bytes());
    *ref.mutable_manifest() =
        model::SignManifest(m, keys_.release, keys_.Certificate());
    auto guard = ReleaseGuard::Open(root_path_, state_dir_);
    EXPECT_TRUE(guard.ok()) << guard.status();
    if (!guard.ok()) return nullptr;
    auto checked = (*guard)->Check(ref, "t", keys_.now);
    EXPECT_TRUE(checked.ok()) << checked.status();
    if (checked.ok()) EXPECT_TRUE((*guard)->Accept(*checked).ok());
    return *std::move(guard);
  }

  testing::TestKeys keys_;
  std::string dir_, state_dir_, root_path_;
  cohort::v1::Weights weights_;
  std::string bytes_;
};

TEST_F(HeldModelTest, ANewDeviceHoldsNothing) {
  auto held = ReadHeldModel(state_dir_, nullptr);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(held->has_value());
}

TEST_F(HeldModelTest, WithoutAPinnedRootTheLastRoundNamesTheVersion) {
  Hold(bytes_);
  LastRound last;
  last.round = 3;
  last.result = RoundResult::kAccepted;
  last.model_version = 5;
  last.model_sha256 = crypto::Sha256Hex(bytes_);
  ASSERT_TRUE(WriteLastRound(state_dir_, last).ok());
  auto held = ReadHeldModel(state_dir_, nullptr);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->info.version, 5);
  EXPECT_EQ((*held)->info.release, 0);
  EXPECT_EQ((*held)->info.architecture, "mlp");
  EXPECT_EQ((*held)->weights.SerializeAsString(), bytes_);
  // Another model's round says nothing about this one.
  last.model_sha256 = crypto::Sha256Hex("other");
  ASSERT_TRUE(WriteLastRound(state_dir_, last).ok());
  held = ReadHeldModel(state_dir_, nullptr);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ((*held)->info.version, 0);
}

TEST_F(HeldModelTest, ADamagedModelFileIsDataLoss) {
  Hold("\xff\xff not a weights message");
  EXPECT_EQ(ReadHeldModel(state_dir_, nullptr).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(HeldModelTest, ThePinnedRootsReleaseVouchesForTheModel) {
  Hold(bytes_);
  std::unique_ptr<ReleaseGuard> guard = GuardHoldingRelease();
  ASSERT_NE(guard, nullptr);
  auto held = ReadHeldModel(state_dir_, guard.get());
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->info.version, 9);
  EXPECT_EQ((*held)->info.release, 4);
  // After a restart the kept manifest, verified again, still does.
  guard.reset();
  auto reopened = ReleaseGuard::Open(root_path_, state_dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  held = ReadHeldModel(state_dir_, reopened->get());
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ((*held)->info.release, 4);
}

// A crash between the model's write and its release's leaves a model the
// held release does not list: it is not served.
TEST_F(HeldModelTest, AModelTheReleaseDoesNotListIsNotServed) {
  std::unique_ptr<ReleaseGuard> guard = GuardHoldingRelease();
  ASSERT_NE(guard, nullptr);
  cohort::v1::Weights other = weights_;
  other.mutable_tensors(0)->set_data(std::string(4, '\x01'));
  Hold(other.SerializeAsString());
  absl::Status refused = ReadHeldModel(state_dir_, guard.get()).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(refused.message().find("not an artifact of the held release 4"),
            absl::string_view::npos)
      << refused;
}

TEST_F(HeldModelTest, APinnedRootWithNoReleaseYetServesNothing) {
  Hold(bytes_);
  auto guard = ReleaseGuard::Open(root_path_, state_dir_);
  ASSERT_TRUE(guard.ok()) << guard.status();
  EXPECT_EQ(ReadHeldModel(state_dir_, guard->get()).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cohort::client
