// Versions the regression gate held: stored in the history, never current,
// never released, and numbers only grow past them. Both backends.

#include <cstdint>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/server/store/store_conformance.h"
#include "tests/server/store/store_test_util.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::ExpectSameRecord;
using store_testing::kTask;
using store_testing::MakeRecord;
using store_testing::MakeRelease;
using store_testing::StoreConformanceTest;

ModelVersionRecord Held(int64_t version, int64_t parent) {
  ModelVersionRecord r = MakeRecord(version, parent, "held weights");
  r.held = true;
  r.round_id = version * 10;
  return r;
}

TEST_P(StoreConformanceTest, AHeldVersionIsStoredButNeverCurrent) {
  Commit(MakeRecord(1, 0));
  Commit(MakeRecord(2, 1));
  const ModelVersionRecord held = Held(3, 2);
  Commit(held);
  ExpectCurrentVersion(2);
  auto got = store_->GetVersion(kTask, 3);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, held, /*with_weights=*/true);
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[2].version, 3);
  EXPECT_TRUE((*versions)[2].held);
  EXPECT_FALSE((*versions)[1].held);
  auto last = store_->LastRoundId(kTask);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 30);  // a held round's id is never reused
  // A reopened store sees the same.
  store_ = OpenStore();
  ExpectCurrentVersion(2);
  got = store_->GetVersion(kTask, 3);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->held);
}

TEST_P(StoreConformanceTest, NumbersGrowPastHeldVersions) {
  Commit(MakeRecord(1, 0));
  Commit(Held(2, 1));
  Commit(Held(3, 1));  // a second held child of the same current version
  // The held numbers are taken; a lower free number is out of order.
  EXPECT_EQ(store_->CommitVersion(MakeRecord(3, 1)).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CommitVersion(Held(2, 1)).code(),
            StatusCode::kAlreadyExists);
  // A held version is not current, so it cannot be a parent.
  EXPECT_EQ(store_->CommitVersion(MakeRecord(4, 3)).code(),
            StatusCode::kFailedPrecondition);
  ExpectCurrentVersion(1);
  Commit(MakeRecord(4, 1));
  ExpectCurrentVersion(4);
  auto versions = store_->ListVersions(kTask);
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 4u);
}

TEST_P(StoreConformanceTest, AHeldVersionCannotBeReleased) {
  Commit(MakeRecord(1, 0));
  Append(MakeRelease(1, 1));
  Commit(Held(2, 1));
  EXPECT_EQ(store_->AppendRelease(MakeRelease(2, 2)).code(),
            StatusCode::kFailedPrecondition);
  auto current = store_->GetCurrentRelease(kTask);
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->release, 1);
  EXPECT_EQ(store_->AppendRelease(MakeRelease(2, 9)).code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::server
