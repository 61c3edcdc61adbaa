// Where the agent's examples come from, and what it does with a damaged
// store.

#include "client/agent/agent_setup.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/ml/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_tree.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

class DeviceExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("device_examples");
    options_.example_store.path = dir_ + "/examples.db";
    options_.example_store.population = "photos";
  }

  int FilesStartingWith(const std::string& prefix) const {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      n += entry.path().filename().string().rfind(prefix, 0) == 0;
    }
    return n;
  }

  std::string dir_;
  AgentOptions options_;
};

TEST_F(DeviceExamplesTest, AStoreIsCreatedAndItsPopulationTrainedOn) {
  auto examples = OpenDeviceExamples(options_);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_NE(examples->store, nullptr);
  EXPECT_EQ(examples->source->Count(), 0);
  ASSERT_TRUE(examples->store->DefinePopulation({"photos", {1, 28, 28}, 10}).ok());
  ASSERT_TRUE(examples->store->Add("photos", std::vector<float>(784, 0.5f), 3)
                  .ok());
  EXPECT_EQ(examples->source->Count(), 1);
  EXPECT_EQ(examples->source->Added(), 1);
  // `cohort-agent status` counts the same, beside the running agent.
  absl::StatusOr<int64_t> added = ExamplesAdded(options_);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 1);
}

TEST_F(DeviceExamplesTest, StatusCreatesNoStore) {
  absl::StatusOr<int64_t> added = ExamplesAdded(options_);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 0);
  EXPECT_FALSE(std::filesystem::exists(options_.example_store.path));
}

TEST_F(DeviceExamplesTest, ADamagedStoreIsMovedAsideWithItsWal) {
  std::ofstream(options_.example_store.path) << std::string(8192, '\x5a');
  std::ofstream(options_.example_store.path + "-wal") << "stale";
  auto examples = OpenDeviceExamples(options_);
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ(examples->source->Count(), 0);
  EXPECT_GE(FilesStartingWith("examples.db.corrupt-"), 1);
  // The stale WAL is not beside the new store (moved aside with the file,
  // or dropped by SQLite when the damaged file failed to open).
  std::ifstream wal(options_.example_store.path + "-wal");
  std::string text((std::istreambuf_iterator<char>(wal)),
                   std::istreambuf_iterator<char>());
  EXPECT_NE(text, "stale");
  // The new store works.
  EXPECT_TRUE(
      examples->store->DefinePopulation({"photos", {1, 28, 28}, 10}).ok());
}

TEST_F(DeviceExamplesTest, AnUnusablePathNamesTheField) {
  options_.example_store.path = dir_ + "/missing/examples.db";
  absl::Status refused = OpenDeviceExamples(options_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("example_store.path: "));
}

TEST_F(DeviceExamplesTest, MissingShardDataStopsTheAgentAtStart) {
  options_.example_store.path.clear();
  options_.idx_dir = dir_ + "/no-data";
  EXPECT_EQ(OpenDeviceExamples(options_).status().code(),
            absl::StatusCode::kNotFound);
}

// A source with nothing in it: calibration for int8 gets no examples.
class EmptySource final : public ExampleSource {
 public:
  absl::StatusOr<data::ImageDataset> Examples() override {
    ++reads;
    return data::ImageDataset();
  }
  int64_t Count() override { return 0; }
  int64_t Added() override { return 0; }
  int reads = 0;
};

TEST(ServeModelTest, SameWeightsAreNotReloadedAndABadModelKeepsTheOld) {
  auto mlp = ml::Model::Create("mlp", 1);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  const cohort::v1::Weights weights = (*mlp)->GetWeights();
  ServedModel served;
  EmptySource source;
  ServeModel(served, weights, {"mlp", "sha-a", 3, 1, ""}, source, false);
  std::shared_ptr<ServingModel> first = served.Current();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->info().version, 3);
  EXPECT_EQ(source.reads, 0);  // fp32 needs no calibration
  ServeModel(served, weights, {"mlp", "sha-a", 4, 2, ""}, source, false);
  EXPECT_EQ(served.Current(), first);  // same weights: not loaded again
  // Weights that do not fit their architecture: logged, the old one stays.
  ServeModel(served, weights, {"small_cnn", "sha-b", 5, 3, ""}, source, false);
  EXPECT_EQ(served.Current(), first);
  // int8 asked for, but no examples to calibrate: fp32 kernels, and said.
  ServeModel(served, weights, {"mlp", "sha-c", 6, 4, ""}, source, true);
  EXPECT_EQ(source.reads, 1);
  ASSERT_NE(served.Current(), nullptr);
  EXPECT_EQ(served.Current()->info().version, 6);
  EXPECT_EQ(served.Current()->info().kernels, "fp32");
}

}  // namespace
}  // namespace cohort::client
