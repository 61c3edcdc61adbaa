// Retention: the store never holds more than its policy allows after an Add,
// and a store grown past new limits is trimmed, oldest first.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "client/examples/example_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/examples/store_fixture.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

int64_t StoredCount(ExampleStore& store) {
  absl::StatusOr<ExampleStats> total = store.TotalStats();
  EXPECT_TRUE(total.ok()) << total.status();
  return total.ok() ? total->count : -1;
}

TEST_F(ExampleStoreTest, RetentionByAgeHidesThenDeletesOldExamples) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SetRetention({.max_age = absl::Hours(1)}).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4})).ok());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store->Add("vec", Pixels(4, i), 0).ok());
  clock_.Advance(absl::Minutes(30));
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(store->Add("vec", Pixels(4, i), 1).ok());
  clock_.Advance(absl::Minutes(45));

  // Past max_age: no longer counted or loaded, though still on disk.
  absl::StatusOr<int64_t> count = store->Count("vec");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);
  absl::StatusOr<FeatureBatch> batch = store->LoadFeatures("vec", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->labels, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(StoredCount(*store), 5);

  absl::StatusOr<int64_t> deleted = store->ApplyRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 3);
  EXPECT_EQ(StoredCount(*store), 2);
  deleted = store->ApplyRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0);

  // An Add trims too: the two from 30 minutes in are now 75 minutes old.
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(store->Add("vec", Pixels(4, 0), 2).ok());
  EXPECT_EQ(StoredCount(*store), 1);
}

TEST_F(ExampleStoreTest, RetentionByAgeKeepsAnExampleOfExactlyMaxAge) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SetRetention({.max_age = absl::Hours(1)}).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4})).ok());
  ASSERT_TRUE(store->Add("vec", Pixels(4, 0), 0).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(store->Count("vec").value_or(-1), 1);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(store->Count("vec").value_or(-1), 0);
}

TEST_F(ExampleStoreTest,
       RetentionByCountNeverExceedsTheLimitAndKeepsTheNewest) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SetRetention({.max_count = 5}).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {2}, 12)).ok());
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(
        store->Add("vec", {static_cast<float>(i) / 11.0f, 0.0f}, i).ok());
    clock_.Advance(absl::Seconds(1));
    EXPECT_EQ(StoredCount(*store), std::min(i + 1, 5)) << "after add " << i;
  }
  absl::StatusOr<FeatureBatch> batch = store->LoadFeatures("vec", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->labels, (std::vector<int64_t>{11, 10, 9, 8, 7}));
  // Retention holds the count at 5; the examples ever added keep counting.
  absl::StatusOr<ExampleStats> stats = store->Stats("vec");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->count, 5);
  EXPECT_EQ(stats->added, 12);
}

TEST_F(ExampleStoreTest,
       RetentionByBytesNeverExceedsTheLimitAcrossPopulations) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr int64_t kMaxBytes = 100;
  ASSERT_TRUE(store->SetRetention({.max_bytes = kMaxBytes}).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("small", {4})).ok());  // 16 B
  ASSERT_TRUE(store->DefinePopulation(Schema("big", {8})).ok());    // 32 B
  // Oldest-first deletion keeps the longest run of newest examples that
  // fits, whichever population they belong to.
  std::vector<int64_t> sizes;
  for (int i = 0; i < 20; ++i) {
    const bool big = i % 3 == 1;
    ASSERT_TRUE(
        store->Add(big ? "big" : "small", Pixels(big ? 8 : 4, i), 0).ok());
    sizes.push_back(big ? 32 : 16);
    clock_.Advance(absl::Seconds(1));

    int64_t kept = 0;
    int64_t kept_bytes = 0;
    for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) {
      if (kept_bytes + *it > kMaxBytes) break;
      kept_bytes += *it;
      ++kept;
    }
    absl::StatusOr<ExampleStats> total = store->TotalStats();
    ASSERT_TRUE(total.ok()) << total.status();
    EXPECT_LE(total->bytes, kMaxBytes) << "after add " << i;
    EXPECT_EQ(total->bytes, kept_bytes) << "after add " << i;
    EXPECT_EQ(total->count, kept) << "after add " << i;
  }
}

TEST_F(ExampleStoreTest, AddOfExampleLargerThanMaxBytesIsResourceExhausted) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SetRetention({.max_bytes = 10}).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4})).ok());
  const absl::Status added = store->Add("vec", Pixels(4, 0), 0);
  EXPECT_EQ(added.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(added.message(), HasSubstr("16 feature bytes"));
  EXPECT_EQ(StoredCount(*store), 0);
}

TEST_F(ExampleStoreTest, ApplyRetentionTrimsAStoreGrownPastNewLimits) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4})).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->Add("vec", Pixels(4, i), i % 10).ok());
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_TRUE(store->SetRetention({.max_count = 3}).ok());
  EXPECT_EQ(StoredCount(*store), 10);  // takes effect at the next write
  absl::StatusOr<int64_t> deleted = store->ApplyRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 7);
  absl::StatusOr<FeatureBatch> batch = store->LoadFeatures("vec", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->labels, (std::vector<int64_t>{9, 8, 7}));
}

TEST_F(ExampleStoreTest, ApplyRetentionGivesTheSpaceBackToTheFileSystem) {
  constexpr int kExamples = 400;  // about 1.6 MB of 28x28 examples
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
    std::vector<Example> batch;
    for (int i = 0; i < kExamples; ++i)
      batch.push_back({Pixels(784, i), i % 10});
    ASSERT_TRUE(store->AddBatch("fmnist", batch).ok());
  }
  const auto full = std::filesystem::file_size(path_);
  ASSERT_GT(full, uintmax_t{kExamples} * 3136);
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->SetRetention({.max_count = 10}).ok());
    absl::StatusOr<int64_t> deleted = store->ApplyRetention();
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_EQ(*deleted, kExamples - 10);
  }  // closing checkpoints the WAL, which truncates the file
  EXPECT_LT(std::filesystem::file_size(path_), full / 4);
}

TEST_F(ExampleStoreTest, SetRetentionRefusesNegativeLimits) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SetRetention({.max_count = 7}).ok());
  EXPECT_EQ(store->SetRetention({.max_age = absl::Seconds(-1)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->SetRetention({.max_count = -1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->SetRetention({.max_bytes = -1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->retention().max_count, 7);
}

TEST_F(ExampleStoreTest, StatsReportCountBytesAndTimes) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("a", {4})).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("b", {2})).ok());
  absl::StatusOr<ExampleStats> empty = store->Stats("a");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->count, 0);
  EXPECT_EQ(empty->oldest, absl::InfiniteFuture());
  EXPECT_EQ(empty->newest, absl::InfinitePast());

  const absl::Time first = clock_.Now();
  ASSERT_TRUE(store->Add("a", Pixels(4, 0), 0).ok());
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(store->Add("b", Pixels(2, 0), 0).ok());
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(store->Add("a", Pixels(4, 1), 1).ok());

  absl::StatusOr<ExampleStats> a = store->Stats("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->count, 2);
  EXPECT_EQ(a->bytes, 32);
  EXPECT_EQ(a->oldest, first);
  EXPECT_EQ(a->newest, first + absl::Seconds(20));
  absl::StatusOr<ExampleStats> total = store->TotalStats();
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(total->count, 3);
  EXPECT_EQ(total->bytes, 40);
  EXPECT_EQ(total->oldest, first);
  EXPECT_EQ(store->Stats("c").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::client
