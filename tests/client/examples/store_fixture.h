#ifndef COHORT_TESTS_CLIENT_EXAMPLES_STORE_FIXTURE_H_
#define COHORT_TESTS_CLIENT_EXAMPLES_STORE_FIXTURE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/examples/example_store.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace cohort::client {

// A fresh folder per test, a fake clock, and an example store file in the
// folder (not yet created: OpenStore creates it).
class ExampleStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = ::testing::TempDir() + "/example_store_" + info->test_suite_name() +
           "_" + info->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/examples.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The store at path_; null, with a test failure, if it does not open.
  std::unique_ptr<ExampleStore> OpenStore() {
    absl::StatusOr<std::unique_ptr<ExampleStore>> store =
        ExampleStore::Open(path_, &clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    return *std::move(store);
  }

  static PopulationSchema Schema(std::string name, std::vector<int64_t> shape,
                                 int num_classes = 10) {
    PopulationSchema schema;
    schema.name = std::move(name);
    schema.shape = std::move(shape);
    schema.num_classes = num_classes;
    return schema;
  }

  // n intensities k / 255 with k = (i + offset) % 256: exact as pixels.
  static std::vector<float> Pixels(int64_t n, int64_t offset) {
    std::vector<float> values(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      values[static_cast<size_t>(i)] =
          static_cast<float>((i + offset) % 256) / 255.0f;
    }
    return values;
  }

  testing::FakeClock clock_;
  std::string dir_;
  std::string path_;
};

}  // namespace cohort::client

#endif  // COHORT_TESTS_CLIENT_EXAMPLES_STORE_FIXTURE_H_
