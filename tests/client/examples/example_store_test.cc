#include "client/examples/example_store.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/examples/store_fixture.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

std::vector<uint32_t> Bits(const std::vector<float>& values) {
  std::vector<uint32_t> bits;
  for (const float v : values) bits.push_back(std::bit_cast<uint32_t>(v));
  return bits;
}

TEST_F(ExampleStoreTest, DefinePopulationSameSchemaAgainIsOk) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const PopulationSchema schema = Schema("fmnist", {1, 28, 28});
  ASSERT_TRUE(store->DefinePopulation(schema).ok());
  EXPECT_TRUE(store->DefinePopulation(schema).ok());
  absl::StatusOr<PopulationSchema> stored = store->GetPopulation("fmnist");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, schema);
}

TEST_F(ExampleStoreTest,
       DefinePopulationOtherShapeWithExamplesFailsNamingBoth) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
  ASSERT_TRUE(store->Add("fmnist", Pixels(784, 0), 3).ok());

  const absl::Status redefined =
      store->DefinePopulation(Schema("fmnist", {28, 28}));
  EXPECT_EQ(redefined.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(redefined.message(), HasSubstr("[1,28,28]"));
  EXPECT_THAT(redefined.message(), HasSubstr("[28,28]"));
  // Other classes would not fit either.
  EXPECT_EQ(store->DefinePopulation(Schema("fmnist", {1, 28, 28}, 5)).code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<PopulationSchema> stored = store->GetPopulation("fmnist");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(stored->num_classes, 10);
}

TEST_F(ExampleStoreTest, DefinePopulationOtherShapeWhileEmptyReplacesIt) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
  ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {28, 28}, 4)).ok());
  absl::StatusOr<PopulationSchema> stored = store->GetPopulation("fmnist");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, Schema("fmnist", {28, 28}, 4));
  EXPECT_TRUE(store->Add("fmnist", Pixels(784, 0), 3).ok());
}

TEST_F(ExampleStoreTest, DefinePopulationBadSchemaIsInvalidArgument) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::vector<PopulationSchema> bad = {
      Schema("", {4}),
      Schema(std::string(65, 'a'), {4}),
      Schema("Fashion", {4}),
      Schema("a/b", {4}),
      Schema("a b", {4}),
      Schema("ok", {}),
      Schema("ok", {0, 3}),
      Schema("ok", {-1}),
      Schema("ok", {1, 2, 3, 4, 5}),
      Schema("ok", {2048, 2048}),  // 4 Mi values, over the 1 Mi cap
      Schema("ok", {4}, 1),
      Schema("ok", {4}, 257),
  };
  for (const PopulationSchema& schema : bad) {
    EXPECT_EQ(store->DefinePopulation(schema).code(),
              absl::StatusCode::kInvalidArgument)
        << "'" << schema.name << "' " << ShapeString(schema.shape) << " "
        << schema.num_classes;
  }
  EXPECT_TRUE(store->DefinePopulation(Schema(std::string(64, 'a'), {4})).ok());
  EXPECT_TRUE(store->DefinePopulation(Schema("a.b-c_9", {4}, 256)).ok());
}

TEST_F(ExampleStoreTest, AddUnknownPopulationIsNotFound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const absl::Status added = store->Add("nope", Pixels(4, 0), 0);
  EXPECT_EQ(added.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(added.message(), HasSubstr("'nope'"));
  EXPECT_EQ(store->Count("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Add("No/pe", Pixels(4, 0), 0).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ExampleStoreTest, AddRefusalsSayWhatIsWrongAndStoreNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
  struct Case {
    std::vector<float> features;
    int64_t label;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back(
      {Pixels(783, 0), 1, "expected 784 values for shape [1,28,28], got 783"});
  cases.push_back(
      {Pixels(785, 0), 1, "expected 784 values for shape [1,28,28], got 785"});
  cases.push_back({Pixels(784, 0), 1, "value at index 5 is NaN"});
  cases.back().features[5] = std::numeric_limits<float>::quiet_NaN();
  cases.push_back({Pixels(784, 0), 1, "value at index 7 is inf"});
  cases.back().features[7] = std::numeric_limits<float>::infinity();
  cases.push_back({Pixels(784, 0), 1, "value at index 9 is -inf"});
  cases.back().features[9] = -std::numeric_limits<float>::infinity();
  cases.push_back(
      {Pixels(784, 0), 1, "value 1.5 at index 3 is outside [0, 1]"});
  cases.back().features[3] = 1.5f;
  cases.push_back({Pixels(784, 0), 1, "value -0.25 at index 0 is outside"});
  cases.back().features[0] = -0.25f;
  cases.push_back({Pixels(784, 0), 10, "label 10 is outside [0, 10)"});
  cases.push_back({Pixels(784, 0), -1, "label -1 is outside [0, 10)"});

  for (const Case& c : cases) {
    const absl::Status added = store->Add("fmnist", c.features, c.label);
    EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(added.message(), HasSubstr(c.message));
  }
  absl::StatusOr<ExampleStats> total = store->TotalStats();
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(total->count, 0);
  EXPECT_EQ(total->bytes, 0);
}

TEST_F(ExampleStoreTest, LoadFeaturesReturnsTheExactFloatsNewestFirst) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {2, 3}, 4)).ok());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<std::vector<float>> added;
  for (int e = 0; e < 20; ++e) {
    std::vector<float> features(6);
    for (float& v : features) v = unit(rng);
    if (e == 0) {  // edge values survive bit for bit
      features = {0.0f,
                  -0.0f,
                  1.0f,
                  std::numeric_limits<float>::denorm_min(),
                  std::nextafter(1.0f, 0.0f),
                  std::numeric_limits<float>::min()};
    }
    ASSERT_TRUE(store->Add("vec", features, e % 4).ok()) << e;
    added.push_back(features);
    clock_.Advance(absl::Seconds(1));
  }
  absl::StatusOr<FeatureBatch> batch = store->LoadFeatures("vec", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->num_examples, 20);
  EXPECT_EQ(batch->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(batch->features.size(), 20u * 6);
  ASSERT_EQ(batch->labels.size(), 20u);
  for (int j = 0; j < 20; ++j) {
    const int e = 19 - j;  // newest first
    const std::vector<float> got(batch->features.begin() + j * 6,
                                 batch->features.begin() + j * 6 + 6);
    EXPECT_EQ(Bits(got), Bits(added[static_cast<size_t>(e)]))
        << "example " << e;
    EXPECT_EQ(batch->labels[static_cast<size_t>(j)], e % 4);
  }
}

TEST_F(ExampleStoreTest, LoadGivesTheTrainersDataSetLayout) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("fmnist", {1, 28, 28})).ok());
  for (int e = 0; e < 5; ++e) {
    ASSERT_TRUE(store->Add("fmnist", Pixels(784, 37 * e), (3 * e) % 10).ok());
    clock_.Advance(absl::Milliseconds(5));
  }
  absl::StatusOr<data::ImageDataset> data = store->Load("fmnist", 0);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_examples, 5);
  EXPECT_EQ(data->height, 28);
  EXPECT_EQ(data->width, 28);
  EXPECT_EQ(data->num_classes, 10);
  ASSERT_EQ(data->images.size(), 5u * 784);
  ASSERT_EQ(data->labels.size(), 5u);
  for (int j = 0; j < 5; ++j) {
    const int e = 4 - j;
    for (int i = 0; i < 784; ++i) {
      ASSERT_EQ(data->images[static_cast<size_t>(j * 784 + i)],
                (i + 37 * e) % 256)
          << "example " << e << " pixel " << i;
    }
    EXPECT_EQ(data->labels[static_cast<size_t>(j)], (3 * e) % 10);
  }
}

TEST_F(ExampleStoreTest, LoadMaxExamplesKeepsTheNewestInInsertionTies) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("img", {2, 2})).ok());
  // Same millisecond: the order they were added breaks the tie.
  for (int e = 0; e < 6; ++e) {
    ASSERT_TRUE(store->Add("img", Pixels(4, e), e).ok());
  }
  absl::StatusOr<data::ImageDataset> data = store->Load("img", 4);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->labels, (std::vector<uint8_t>{5, 4, 3, 2}));
  EXPECT_EQ(store->Load("img", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ExampleStoreTest, LoadOfNonImageShapeFailsButFeaturesLoad) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("rgb", {3, 4, 4})).ok());
  ASSERT_TRUE(store->Add("rgb", Pixels(48, 0), 1).ok());
  const absl::Status loaded = store->Load("rgb", 0).status();
  EXPECT_EQ(loaded.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loaded.message(), HasSubstr("[3,4,4]"));
  absl::StatusOr<FeatureBatch> features = store->LoadFeatures("rgb", 0);
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->num_examples, 1);
}

TEST_F(ExampleStoreTest, ReopenKeepsSchemasAndExamples) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->DefinePopulation(Schema("img", {2, 2}, 3)).ok());
    for (int e = 0; e < 3; ++e) {
      ASSERT_TRUE(store->Add("img", Pixels(4, 10 * e), e).ok());
      clock_.Advance(absl::Seconds(1));
    }
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // The schema came back with the file: no DefinePopulation needed.
  ASSERT_TRUE(store->Add("img", Pixels(4, 99), 2).ok());
  EXPECT_EQ(store->Add("img", Pixels(4, 0), 3).code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<FeatureBatch> batch = store->LoadFeatures("img", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->num_examples, 4);
  EXPECT_EQ(batch->labels, (std::vector<int64_t>{2, 2, 1, 0}));
  const std::vector<float> oldest(batch->features.end() - 4,
                                  batch->features.end());
  EXPECT_EQ(oldest, Pixels(4, 0));
}

TEST_F(ExampleStoreTest, AddBatchWithOneBadExampleAddsNone) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {4}, 3)).ok());
  std::vector<Example> batch = {
      {Pixels(4, 0), 0}, {Pixels(3, 0), 1}, {Pixels(4, 2), 2}};
  absl::Status added = store->AddBatch("vec", batch);
  EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      added.message(),
      HasSubstr("example 1 of 3: expected 4 values for shape [4], got 3"));
  batch[1].features = Pixels(4, 1);
  batch[2].label = 3;
  added = store->AddBatch("vec", batch);
  EXPECT_THAT(added.message(),
              HasSubstr("example 2 of 3: label 3 is outside [0, 3)"));
  absl::StatusOr<int64_t> count = store->Count("vec");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);

  batch[2].label = 2;
  ASSERT_TRUE(store->AddBatch("vec", batch).ok());
  absl::StatusOr<ExampleStats> stats = store->Stats("vec");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->count, 3);
  EXPECT_EQ(stats->bytes, 3 * 4 * 4);
  // One transaction, one time.
  EXPECT_EQ(stats->oldest, clock_.Now());
  EXPECT_EQ(stats->newest, clock_.Now());
}

TEST_F(ExampleStoreTest, ConcurrentAddsAreAllKept) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->DefinePopulation(Schema("vec", {8})).ok());
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!store->Add("vec", Pixels(8, i), t).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
  absl::StatusOr<int64_t> count = store->Count("vec");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, kThreads * kEach);
}

TEST_F(ExampleStoreTest, SecondConnectionSeesCommittedExamples) {
  auto writer = OpenStore();
  auto reader = OpenStore();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(writer->DefinePopulation(Schema("vec", {4})).ok());
  ASSERT_TRUE(writer->Add("vec", Pixels(4, 0), 1).ok());
  absl::StatusOr<int64_t> seen = reader->Count("vec");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(*seen, 1);
  ASSERT_TRUE(reader->Add("vec", Pixels(4, 1), 2).ok());
  seen = writer->Count("vec");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(*seen, 2);
}

}  // namespace
}  // namespace cohort::client
