// LeaseFencedStore stamps the coordinator's lease epoch on every write and
// refuses writes while the coordinator leads nothing; reads pass through.

#include "server/store/lease_fenced_store.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "server/store/forwarding_store.h"
#include "server/store/store_util.h"
#include "tests/server/store/store_test_util.h"

namespace cohort::server {
namespace {

// Records the writes that reach it and stores them in a directory store
// with their epoch cleared (a directory store has no leases).
class RecordingStore final : public ForwardingStore {
 public:
  RecordingStore(std::unique_ptr<Store> inner, std::vector<int64_t>* epochs)
      : ForwardingStore(inner.get()),
        inner_(std::move(inner)),
        epochs_(epochs) {}
  absl::Status CommitVersion(const ModelVersionRecord& r) override {
    epochs_->push_back(r.lease_epoch);
    ModelVersionRecord plain = r;
    plain.lease_epoch = 0;
    return ForwardingStore::CommitVersion(plain);
  }
  absl::Status AppendRelease(const ReleaseRecord& r) override {
    epochs_->push_back(r.lease_epoch);
    ReleaseRecord plain = r;
    plain.lease_epoch = 0;
    return ForwardingStore::AppendRelease(plain);
  }

 private:
  std::unique_ptr<Store> inner_;
  std::vector<int64_t>* epochs_;
};

TEST(LeaseFencedStoreTest, WritesCarryTheEpochAndAreRefusedWithoutOne) {
  std::vector<int64_t> epochs;
  auto dir = DirectoryStore::Open(store_testing::MakeTempDir("fenced"));
  ASSERT_TRUE(dir.ok()) << dir.status();
  LeaseFencedStore store(
      std::make_unique<RecordingStore>(std::move(*dir), &epochs));
  const ModelVersionRecord v1 = store_testing::MakeTestRecord("t", 1, 0);
  absl::Status refused = store.CommitVersion(v1);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAborted) << refused;
  EXPECT_TRUE(epochs.empty());  // never reached the store

  store.Lead(7);
  EXPECT_EQ(store.epoch(), 7);
  ASSERT_TRUE(store.CommitVersion(v1).ok());
  ASSERT_TRUE(
      store.AppendRelease(store_testing::MakeTestRelease("t", 1, 1)).ok());
  EXPECT_EQ(epochs, (std::vector<int64_t>{7, 7}));
  auto current = store.GetCurrent("t");  // reads pass through
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->version, 1);

  store.Depose();
  EXPECT_EQ(
      store.CommitVersion(store_testing::MakeTestRecord("t", 2, 1)).code(),
      absl::StatusCode::kAborted);
  EXPECT_EQ(
      store.AppendRelease(store_testing::MakeTestRelease("t", 2, 1)).code(),
      absl::StatusCode::kAborted);
  EXPECT_EQ(epochs.size(), 2u);
}

// Every row of the fence's table (store_util.h, CheckLeaseEpoch).
TEST(CheckLeaseEpochTest, EveryCaseOfTheRule) {
  const std::optional<LeaseInfo> none;
  const std::optional<LeaseInfo> live = LeaseInfo{"b:2", 4, true};
  const std::optional<LeaseInfo> expired = LeaseInfo{"b:2", 4, false};
  EXPECT_TRUE(CheckLeaseEpoch("t", none, 0).ok());
  EXPECT_EQ(CheckLeaseEpoch("t", none, 3).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckLeaseEpoch("t", expired, 0).ok());
  absl::Status unleased = CheckLeaseEpoch("t", live, 0);
  EXPECT_EQ(unleased.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unleased.message().find("held by b:2"), std::string::npos)
      << unleased;
  EXPECT_TRUE(CheckLeaseEpoch("t", live, 4).ok());
  EXPECT_EQ(CheckLeaseEpoch("t", live, 3).code(), absl::StatusCode::kAborted);
  absl::Status lapsed = CheckLeaseEpoch("t", expired, 4);
  EXPECT_EQ(lapsed.code(), absl::StatusCode::kAborted);
  EXPECT_NE(lapsed.message().find("epoch 4 of b:2, expired"), std::string::npos)
      << lapsed;
}

}  // namespace
}  // namespace cohort::server
