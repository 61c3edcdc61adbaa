#include "client/examples/example_source.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "client/examples/example_store.h"
#include "gtest/gtest.h"
#include "tests/client/examples/store_fixture.h"

namespace cohort::client {
namespace {

data::ImageDataset TinyShard() {
  data::ImageDataset shard;
  shard.num_examples = 3;
  shard.height = 2;
  shard.width = 2;
  shard.images = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  shard.labels = {7, 8, 9};
  return shard;
}

TEST(FashionMnistShardSourceTest, ExamplesComeFromOneLoad) {
  int loads = 0;
  FashionMnistShardSource source(
      [&loads]() -> absl::StatusOr<data::ImageDataset> {
        ++loads;
        return TinyShard();
      });
  EXPECT_EQ(source.Count(), 3);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<data::ImageDataset> shard = source.Examples();
    ASSERT_TRUE(shard.ok()) << shard.status();
    EXPECT_EQ(shard->images, TinyShard().images);
    EXPECT_EQ(shard->labels, TinyShard().labels);
  }
  EXPECT_EQ(loads, 1);
}

TEST(FashionMnistShardSourceTest, FailedLoadIsReportedAndRetried) {
  int loads = 0;
  FashionMnistShardSource source(
      [&loads]() -> absl::StatusOr<data::ImageDataset> {
        if (++loads == 1) return absl::NotFoundError("no fashion-mnist here");
        return TinyShard();
      });
  EXPECT_EQ(source.Count(), 0);
  absl::StatusOr<data::ImageDataset> shard = source.Examples();
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->num_examples, 3);
  EXPECT_EQ(loads, 2);
}

TEST_F(ExampleStoreTest, StoreSourceServesItsPopulationNewestFirst) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("a", {2, 2})).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("b", {2, 2})).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->Add("a", Pixels(4, i), i).ok());
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_TRUE(store->Add("b", Pixels(4, 9), 9).ok());

  StoreSource source(store.get(), "a", /*max_examples=*/2);
  EXPECT_EQ(source.Count(), 2);
  absl::StatusOr<data::ImageDataset> data = source.Examples();
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->labels, (std::vector<uint8_t>{2, 1}));
  EXPECT_EQ(data->height, 2);

  // A new example counts at once.
  StoreSource all(store.get(), "a");
  EXPECT_EQ(all.Count(), 3);
  ASSERT_TRUE(store->Add("a", Pixels(4, 3), 3).ok());
  EXPECT_EQ(all.Count(), 4);
  // Added counts the population's examples only, whatever max_examples.
  EXPECT_EQ(all.Added(), 4);
  EXPECT_EQ(source.Added(), 4);
}

TEST_F(ExampleStoreTest, StoreSourceOfUnknownPopulationCountsZero) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  StoreSource source(store.get(), "missing");
  EXPECT_EQ(source.Count(), 0);
  EXPECT_EQ(source.Added(), 0);
  EXPECT_EQ(source.Examples().status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::client
