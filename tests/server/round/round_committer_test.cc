#include "server/round/round_committer.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/forwarding_store.h"
#include "tests/testing/fake_task_model.h"
#include "tests/testing/test_keys.h"
#include "common/model/trust.h"
#include "server/round/round_engine.h"

namespace cohort::server {
namespace {

using cohort::testing::FakeClock;
using cohort::testing::FakeTaskModel;

// A Store whose CommitVersion fails with UNAVAILABLE, writing nothing, while
// `fail` is set: a connection lost before COMMIT.
class FailingStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::Status CommitVersion(const ModelVersionRecord& r) override {
    if (fail) return absl::UnavailableError("connection lost before COMMIT");
    return ForwardingStore::CommitVersion(r);
  }
  absl::Status AppendRelease(const ReleaseRecord& r) override {
    if (fail_release) return absl::UnavailableError("killed before release");
    return ForwardingStore::AppendRelease(r);
  }
  bool fail = false;
  bool fail_release = false;  // AppendRelease fails instead
};

class RoundCommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/round_committer_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    auto store = DirectoryStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    options_.task = "t";
    // FedAvgM with values exact in binary: v = 0.5 v + d, w += v.
    options_.server_optimizer.learning_rate = 1.0;
    options_.server_optimizer.momentum = 0.5;
  }

  // A round's result: every coordinate of the mean delta is `delta`.
  RoundResult ResultOf(std::shared_ptr<const PublishedModel> parent,
                       int64_t round_id, float delta) {
    return RoundResult{
        .round_id = round_id,
        .parent = std::move(parent),
        .mean_delta = model_.Filled(delta),
        .examples = 20,
        .participants = 10,
        .mean_loss = 0.25,
        .clipped = std::nullopt,
        .field = std::nullopt,
    };
  }

  static float First(const cohort::v1::Weights& w) {
    return model::FloatView(w.tensors(0))[0];
  }

  size_t StoredVersions() {
    auto versions = store_->ListVersions("t");
    EXPECT_TRUE(versions.ok()) << versions.status();
    return versions.ok() ? versions->size() : 0;
  }

  std::string root_;
  std::unique_ptr<DirectoryStore> store_;
  RoundOptions options_;
  FakeTaskModel model_;
  FakeClock clock_;
};

TEST_F(RoundCommitterTest, CommitInitialWritesVersionOneWithoutParent) {
  RoundCommitter committer(options_, store_.get(), &model_, &clock_);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ((*v1)->version, 1);
  auto current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->version, 1);
  EXPECT_EQ((*current)->parent, 0);
  EXPECT_EQ((*current)->round_id, 0);
  EXPECT_EQ((*current)->architecture, "fake");
  // A second version 1 would fork the history.
  EXPECT_EQ(committer.CommitInitial().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StoredVersions(), 1u);
}

TEST_F(RoundCommitterTest, CommitWritesOneChildOfTheCurrentVersion) {
  RoundCommitter committer(options_, store_.get(), &model_, &clock_);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  clock_.Advance(absl::Seconds(5));

  auto v2 = committer.Commit(ResultOf(*v1, 7, 1.0f));
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ((*v2)->version, 2);
  EXPECT_EQ((*v2)->round_id, 7);
  EXPECT_FLOAT_EQ(First((*v2)->weights), 1.0f);

  EXPECT_EQ(StoredVersions(), 2u);
  auto current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok() && current->has_value());
  const ModelVersionRecord& r = **current;
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(r.parent, 1);
  EXPECT_EQ(r.round_id, 7);
  EXPECT_EQ(r.created_at_unix_ms, absl::ToUnixMillis(clock_.Now()));
  EXPECT_DOUBLE_EQ(r.metrics.at("test_accuracy"), 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.at("train_loss"), 0.25);
  EXPECT_DOUBLE_EQ(r.metrics.at("participants"), 10.0);
  cohort::v1::Weights stored;
  ASSERT_TRUE(stored.ParseFromString(r.weights));
  EXPECT_FLOAT_EQ(First(stored), 1.0f);
}

// v2 = 0 + 1 (velocity 1). A step from v2 with delta 1 has velocity
// 0.5 * 1 + 1 = 1.5, so v3 = 2.5. Had the failed attempt kept its velocity,
// the retry would give 0.5 * 1.5 + 1 = 1.75 and v3 = 2.75; without momentum
// v3 would be 2.
TEST_F(RoundCommitterTest, CommitWriteFailureLeavesMomentumSoRetryMatches) {
  FailingStore store(store_.get());
  RoundCommitter committer(options_, &store, &model_, &clock_);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = committer.Commit(ResultOf(*v1, 1, 1.0f));
  ASSERT_TRUE(v2.ok()) << v2.status();

  const RoundResult result = ResultOf(*v2, 2, 1.0f);
  store.fail = true;
  auto failed = committer.Commit(result);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StoredVersions(), 2u);

  store.fail = false;
  auto v3 = committer.Commit(result);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ((*v3)->version, 3);
  EXPECT_FLOAT_EQ(First((*v3)->weights), 2.5f);
  EXPECT_EQ(StoredVersions(), 3u);
}

// The optimizer's state is stored with each version it makes: a committer
// restarted on the store (RestoreOptimizer from the current version)
// commits exactly the bits of one that never stopped.
TEST_F(RoundCommitterTest, ARestartedCommitterResumesTheOptimizerExactly) {
  options_.server_optimizer = {.kind = ServerOptimizerOptions::Kind::kFedAdam,
                               .learning_rate = 0.1};
  const std::vector<float> deltas = {1.0f, -0.5f, 0.25f};
  // Uninterrupted, on a store of its own.
  std::filesystem::remove_all(root_ + "_uninterrupted");
  auto other = DirectoryStore::Open(root_ + "_uninterrupted");
  ASSERT_TRUE(other.ok()) << other.status();
  RoundCommitter steady(options_, other->get(), &model_, &clock_);
  auto s = steady.CommitInitial();
  ASSERT_TRUE(s.ok()) << s.status();
  for (size_t r = 0; r < deltas.size(); ++r) {
    s = steady.Commit(ResultOf(*s, static_cast<int64_t>(r + 1), deltas[r]));
    ASSERT_TRUE(s.ok()) << s.status();
  }
  // Restarted before the last round.
  absl::StatusOr<std::shared_ptr<const PublishedModel>> b;
  {
    RoundCommitter before(options_, store_.get(), &model_, &clock_);
    b = before.CommitInitial();
    for (size_t r = 0; r + 1 < deltas.size(); ++r) {
      ASSERT_TRUE(b.ok()) << b.status();
      b = before.Commit(ResultOf(*b, static_cast<int64_t>(r + 1), deltas[r]));
    }
    ASSERT_TRUE(b.ok()) << b.status();
  }
  auto current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_FALSE((*current)->optimizer_state.empty());
  RoundCommitter after(options_, store_.get(), &model_, &clock_);
  ASSERT_TRUE(after.RestoreOptimizer(**current, (*b)->weights).ok());
  auto resumed = after.Commit(ResultOf(*b, 3, deltas.back()));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->weights.SerializeAsString(),
            (*s)->weights.SerializeAsString());
  // Resetting instead (the old behaviour) gives other weights.
  auto fresh = ServerOptimizer(options_.server_optimizer)
                   .Step((*b)->weights, model_.Filled(0.25f));
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->weights.SerializeAsString(),
            (*s)->weights.SerializeAsString());
  // A damaged state is DATA_LOSS naming the version, not a silent reset.
  ModelVersionRecord damaged = **current;
  damaged.optimizer_state = "\xff\xff not a proto";
  const absl::Status refused = after.RestoreOptimizer(damaged, (*b)->weights);
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss) << refused;
  EXPECT_NE(refused.message().find("version 3"), std::string::npos) << refused;
}

// The adaptive clip bound moves with every commit by the round's clipped
// fraction, is stored with the version (also with plain FedAvg, which has
// no moments) and resumes after a restart; a rollback keeps it.
TEST_F(RoundCommitterTest, TheAdaptiveClipBoundIsStoredAndResumed) {
  options_.server_optimizer = {};  // FedAvg, no state of its own
  options_.clipping = {.clip_norm = 1.0, .adaptive = true,
                       .target_quantile = 0.5, .learning_rate = 0.2};
  std::shared_ptr<const PublishedModel> v1, v2;
  {
    RoundCommitter committer(options_, store_.get(), &model_, &clock_);
    auto v = committer.CommitInitial();
    ASSERT_TRUE(v.ok()) << v.status();
    v1 = *v;
    EXPECT_EQ(committer.clip_norm(), 1.0);
    RoundResult r = ResultOf(v1, 1, 0.5f);
    r.clipped = 8;  // of 10: 20% unclipped, so the bound grows
    v = committer.Commit(r);
    ASSERT_TRUE(v.ok()) << v.status();
    v2 = *v;
    EXPECT_DOUBLE_EQ(committer.clip_norm(), std::exp(0.2 * 0.3));
  }
  auto current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok() && current->has_value());
  RoundCommitter restarted(options_, store_.get(), &model_, &clock_);
  ASSERT_TRUE(restarted.RestoreOptimizer(**current, v2->weights).ok());
  EXPECT_DOUBLE_EQ(restarted.clip_norm(), std::exp(0.2 * 0.3));
  // A rollback to version 1 keeps the bound, stored with the new version.
  auto rolled = restarted.RollBack(*v1, 2, "test", "operator:test");
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok() && current->has_value());
  RoundCommitter again(options_, store_.get(), &model_, &clock_);
  ASSERT_TRUE(again.RestoreOptimizer(**current, v1->weights).ok());
  EXPECT_DOUBLE_EQ(again.clip_norm(), std::exp(0.2 * 0.3));
  // A stored bound outside [min, max] (other limits then) is clamped; a
  // negative one is DATA_LOSS, and the bound starts over.
  cohort::v1::ServerOptimizerState stored;
  stored.set_clip_norm(1e9);
  ModelVersionRecord other = **current;
  other.optimizer_state = stored.SerializeAsString();
  ASSERT_TRUE(again.RestoreOptimizer(other, v1->weights).ok());
  EXPECT_EQ(again.clip_norm(), 1e6);
  stored.set_clip_norm(-3);
  other.optimizer_state = stored.SerializeAsString();
  EXPECT_EQ(again.RestoreOptimizer(other, v1->weights).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(again.clip_norm(), 1.0);
}

TEST_F(RoundCommitterTest, CommitOnStaleParentIsRefusedAndLeavesMomentum) {
  RoundCommitter committer(options_, store_.get(), &model_, &clock_);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = committer.Commit(ResultOf(*v1, 1, 1.0f));
  ASSERT_TRUE(v2.ok()) << v2.status();

  // A result from version 1, which is no longer current.
  auto stale = committer.Commit(ResultOf(*v1, 2, 1.0f));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StoredVersions(), 2u);

  auto v3 = committer.Commit(ResultOf(*v2, 3, 1.0f));
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_FLOAT_EQ(First((*v3)->weights), 2.5f);
}

TEST_F(RoundCommitterTest, CommitNonFiniteAggregateIsInternalAndWritesNothing) {
  RoundCommitter committer(options_, store_.get(), &model_, &clock_);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  const int evaluations = model_.evaluations;

  auto bad = committer.Commit(
      ResultOf(*v1, 1, std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(model_.evaluations, evaluations);
  EXPECT_EQ(StoredVersions(), 1u);
}

TEST(RoundResultTest, ClippedFractionIsNanUnlessTheRoundClips) {
  RoundResult r;
  r.participants = 6;
  EXPECT_TRUE(std::isnan(r.clipped_fraction()));
  r.clipped = 2;
  EXPECT_DOUBLE_EQ(r.clipped_fraction(), 2.0 / 6.0);
  r.participants = 0;
  EXPECT_TRUE(std::isnan(r.clipped_fraction()));
}

// The manifest `model` carries, verified as a device pinning the test root
// verifies it.
absl::StatusOr<cohort::v1::ModelManifest> DeviceView(
    const PublishedModel& model, const testing::TestKeys& keys) {
  auto root = model::TrustedRoot::FromPinned(keys.Root());
  if (!root.ok()) return root.status();
  return model::VerifyManifest(*root, model.manifest, {"t", 0, keys.now});
}

class SignedCommitTest : public RoundCommitterTest {
 protected:
  void SetUp() override {
    RoundCommitterTest::SetUp();
    keys_.now = clock_.Now();
    auto signer = ReleaseSigner::Create(keys_.release, keys_.Certificate());
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);
  }
  ReleaseRegistry Registry(Store* store) {
    return ReleaseRegistry("t", store, signer_.get(), &clock_, absl::Hours(24));
  }
  // Versions 1 and 2 (one round), each released through `registry`.
  void CommitTwo(ReleaseRegistry& registry,
                 std::shared_ptr<const PublishedModel>* v1,
                 std::shared_ptr<const PublishedModel>* v2) {
    RoundCommitter committer(options_, store_.get(), &model_, &clock_, &registry);
    auto first = committer.CommitInitial();
    ASSERT_TRUE(first.ok()) << first.status();
    auto second = committer.Commit(ResultOf(*first, 1, 0.5f));
    ASSERT_TRUE(second.ok()) << second.status();
    *v1 = *std::move(first);
    *v2 = *std::move(second);
  }
  testing::TestKeys keys_;
  std::unique_ptr<ReleaseSigner> signer_;
};

TEST_F(SignedCommitTest, EveryCommittedVersionIsReleasedUnderASignedManifest) {
  ReleaseRegistry registry = Registry(store_.get());
  std::shared_ptr<const PublishedModel> v1, v2;
  ASSERT_NO_FATAL_FAILURE(CommitTwo(registry, &v1, &v2));
  EXPECT_EQ(v1->release, 1);
  EXPECT_EQ(v2->release, 2);
  auto m = DeviceView(*v2, keys_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version(), 2);
  EXPECT_EQ(m->parent(), 1);
  // The int8 artifact devices download, and the fp32 master weights.
  ASSERT_EQ(m->artifacts_size(), 2);
  EXPECT_EQ(m->artifacts(0).kind(), "int8");
  EXPECT_EQ(m->artifacts(0).sha256(), v2->sha256);
  EXPECT_EQ(m->artifacts(0).size_bytes(),
            static_cast<int64_t>(v2->bytes.size()));
  EXPECT_EQ(m->artifacts(1).kind(), "fp32");
  EXPECT_TRUE(model::VerifyArtifact(
                  *m, "fp32", model::SerializeWeights(v2->weights))
                  .ok());
}

// A task model's exports (the ONNX file) are signed with each release: the
// manifest lists their digest beside the artifacts devices download.
TEST_F(SignedCommitTest, ReleasesSignTheDigestsOfTheModelsExports) {
  model_.exports_on = true;
  ReleaseRegistry registry = Registry(store_.get());
  std::shared_ptr<const PublishedModel> v1, v2;
  ASSERT_NO_FATAL_FAILURE(CommitTwo(registry, &v1, &v2));
  for (const auto& v : {v1, v2}) {
    auto m = DeviceView(*v, keys_);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_EQ(m->artifacts_size(), 3);
    EXPECT_EQ(m->artifacts(2).kind(), "onnx");
    const std::string expected = "graph:" + model::SerializeWeights(v->weights);
    EXPECT_TRUE(model::VerifyArtifact(*m, "onnx", expected).ok());
    EXPECT_FALSE(model::VerifyArtifact(*m, "onnx", expected + " ").ok());
  }
}

// An export that fails costs the release its export digest, not the
// release itself.
TEST_F(SignedCommitTest, AFailedExportStillReleasesTheVersion) {
  model_.exports_fail = true;
  ReleaseRegistry registry = Registry(store_.get());
  std::shared_ptr<const PublishedModel> v1, v2;
  ASSERT_NO_FATAL_FAILURE(CommitTwo(registry, &v1, &v2));
  EXPECT_EQ(v2->release, 2);
  auto m = DeviceView(*v2, keys_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->artifacts_size(), 2);
  EXPECT_EQ(model::VerifyArtifact(*m, "onnx", "").code(),
            absl::StatusCode::kNotFound);
}

// kill -9 between storing a version and releasing it: the engine that
// resumes from the store releases the stored version before serving it.
TEST_F(SignedCommitTest, AVersionStoredButNotReleasedIsReleasedOnResume) {
  FailingStore store(store_.get());
  ReleaseRegistry registry = Registry(&store);
  {
    RoundCommitter committer(options_, &store, &model_, &clock_, &registry);
    auto v1 = committer.CommitInitial();
    ASSERT_TRUE(v1.ok()) << v1.status();
    store.fail_release = true;
    EXPECT_EQ(committer.Commit(ResultOf(*v1, 1, 0.5f)).status().code(),
              absl::StatusCode::kUnavailable);
  }
  store.fail_release = false;
  auto stored = store_->GetCurrentRelease("t");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->version, 1);  // version 2 is stored, not released
  RoundEngine engine(options_, &store, &model_, &clock_, nullptr, &registry);
  ASSERT_TRUE(engine.Start().ok());
  const auto model = engine.current_model();
  EXPECT_EQ(model->version, 2);
  EXPECT_EQ(model->release, 2);
  auto m = DeviceView(*model, keys_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version(), 2);
}

// A rollback through the engine: the old weights come back as a new
// version under a new, higher release, and unknown versions are refused.
TEST_F(SignedCommitTest, RollBackRepublishesOldWeightsUnderAHigherRelease) {
  ReleaseRegistry registry = Registry(store_.get());
  RoundEngine engine(options_, store_.get(), &model_, &clock_, nullptr, &registry);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(engine.RollBack(1, "too early", "test").status().code(),
            absl::StatusCode::kUnavailable);  // Run is not running
  absl::Notification stop;
  std::thread driver([&] { engine.Run(&stop, absl::Milliseconds(1)); });
  for (int i = 0; i < 5000 && !engine.running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  auto unknown = engine.RollBack(99, "typo", "operator:alice");
  auto outcome = engine.RollBack(1, "bad round", "operator:alice");
  stop.Notify();
  driver.join();
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->version, 2);
  EXPECT_EQ(outcome->release, 2);
  auto v1 = store_->GetVersion("t", 1);
  auto v2 = store_->GetVersion("t", 2);
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_EQ(v2->weights, v1->weights);
  EXPECT_EQ(v2->parent, 1);
  EXPECT_EQ(v2->metrics.at("rolled_back_from"), 1.0);
  auto release = store_->GetCurrentRelease("t");
  ASSERT_TRUE(release.ok() && release->has_value());
  EXPECT_EQ((*release)->kind, ReleaseRecord::Kind::kRollback);
  EXPECT_EQ((*release)->actor, "operator:alice");
  EXPECT_EQ(engine.current_model()->version, 2);
  auto m = DeviceView(*engine.current_model(), keys_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->release(), 2);
}

// A pin releases the pinned weights and holds every new version until an
// operator promotes one; each step is a new, higher release.
TEST_F(SignedCommitTest, APinHoldsNewVersionsUntilAPromote) {
  ReleaseRegistry registry = Registry(store_.get());
  RoundCommitter committer(options_, store_.get(), &model_, &clock_, &registry);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = committer.Commit(ResultOf(*v1, 1, 0.5f));
  ASSERT_TRUE(v2.ok()) << v2.status();
  auto pin = committer.RollBack(**v1, 2, "freeze for the launch",
                                "operator:alice", ReleaseRecord::Kind::kPin);
  ASSERT_TRUE(pin.ok()) << pin.status();
  EXPECT_EQ((*pin)->version, 3);
  EXPECT_EQ((*pin)->release, 3);
  EXPECT_TRUE((*pin)->pinned);
  auto held = committer.Commit(ResultOf(*pin, 2, 0.5f));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE((*held)->held);
  EXPECT_EQ((*held)->version, 4);
  EXPECT_NE((*held)->held_reason.find("pinned"), std::string::npos);
  auto release = store_->GetCurrentRelease("t");
  ASSERT_TRUE(release.ok() && release->has_value());
  EXPECT_EQ((*release)->release, 3);
  EXPECT_EQ((*release)->kind, ReleaseRecord::Kind::kPin);
  auto promoted = committer.RollBack(**held, 3, "reviewed", "operator:alice",
                                     ReleaseRecord::Kind::kPromote);
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_EQ((*promoted)->version, 5);
  EXPECT_EQ((*promoted)->release, 4);
  EXPECT_FALSE((*promoted)->pinned);
  auto next = committer.Commit(ResultOf(*promoted, 3, 0.5f));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE((*next)->held);
  EXPECT_EQ((*next)->version, 6);
  EXPECT_EQ((*next)->release, 5);
  auto m = DeviceView(**next, keys_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version(), 6);
}

// A task where no round commits for half the manifest TTL still serves a
// manifest devices accept: the engine adopts the re-signed release.
TEST_F(SignedCommitTest, AQuietEngineServesAReSignedReleaseBeforeExpiry) {
  ReleaseRegistry registry = Registry(store_.get());  // TTL 24 h
  RoundEngine engine(options_, store_.get(), &model_, &clock_, nullptr, &registry);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(engine.current_model()->release, 1);
  clock_.Advance(absl::Hours(13));
  keys_.now = clock_.Now();
  EXPECT_TRUE(engine.RunOnce());
  const auto model = engine.current_model();
  EXPECT_EQ(model->version, 1);
  EXPECT_EQ(model->release, 2);
  auto m = DeviceView(*model, keys_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->release(), 2);
  EXPECT_GT(m->expires_at_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + absl::Hours(23)));
}

}  // namespace
}  // namespace cohort::server
