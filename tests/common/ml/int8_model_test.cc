#include "common/ml/int8_model.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/ml/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using testing::SquaresDataset;

std::unique_ptr<Model> TrainedCnn(const data::ImageDataset& train, bool qat) {
  SetNumThreads(1);
  auto model = Model::Create("small_cnn", 5);
  EXPECT_TRUE(model.ok());
  TrainOptions options{.epochs = 4,
                       .batch_size = 16,
                       .learning_rate = 0.05f,
                       .momentum = 0.9f,
                       .seed = 2,
                       .qat = qat};
  EXPECT_TRUE((*model)->Train(train, options).ok());
  return *std::move(model);
}

double MaxAbs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

class Int8EngineTest : public ::testing::TestWithParam<QEngine> {};

// Post-training quantization: logits stay close to fp32 and predictions agree.
TEST_P(Int8EngineTest, PtqLogitsAndAccuracyTrackFp32) {
  const data::ImageDataset train = SquaresDataset(30, 1);
  const data::ImageDataset test = SquaresDataset(20, 2);
  auto fp32 = TrainedCnn(train, /*qat=*/false);
  auto int8 = Int8Model::Create(*fp32, train, {.engine = GetParam()});
  ASSERT_TRUE(int8.ok()) << int8.status();
  EXPECT_EQ((*int8)->engine(), GetParam());

  auto want = fp32->Logits(test, 0, test.num_examples);
  auto got = (*int8)->Logits(test, 0, test.num_examples);
  ASSERT_TRUE(want.ok() && got.ok());
  ASSERT_EQ(want->size(), got->size());
  double max_diff = 0.0;
  int agree = 0;
  for (int64_t i = 0; i < test.num_examples; ++i) {
    auto row = [&](const std::vector<float>& v) {
      return std::max_element(v.begin() + i * 10, v.begin() + i * 10 + 10) -
             (v.begin() + i * 10);
    };
    agree += row(*want) == row(*got);
    for (int k = 0; k < 10; ++k) {
      max_diff = std::max(
          max_diff, std::fabs(static_cast<double>((*want)[i * 10 + k]) -
                              (*got)[i * 10 + k]));
    }
  }
  EXPECT_LT(max_diff, 0.1 * MaxAbs(*want)) << "logit range " << MaxAbs(*want);
  EXPECT_GE(agree, test.num_examples * 97 / 100);

  auto fp32_eval = fp32->Evaluate(test);
  auto int8_eval = (*int8)->Evaluate(test);
  ASSERT_TRUE(fp32_eval.ok() && int8_eval.ok());
  EXPECT_GT(fp32_eval->accuracy, 0.9);
  EXPECT_NEAR(int8_eval->accuracy, fp32_eval->accuracy, 0.03);
}

INSTANTIATE_TEST_SUITE_P(
    Engines, Int8EngineTest, ::testing::ValuesIn(AvailableQEngines()),
    [](const auto& info) { return QEngineName(info.param); });

TEST(Int8ModelTest, AutoPicksAMeasuredEngine) {
  const data::ImageDataset train = SquaresDataset(10, 3);
  auto fp32 = TrainedCnn(train, false);
  auto int8 = Int8Model::Create(*fp32, train);
  ASSERT_TRUE(int8.ok()) << int8.status();
  const std::vector<QEngine> available = AvailableQEngines();
  EXPECT_THAT(available, ::testing::Contains((*int8)->engine()));
  if (available.size() > 1) {
    ASSERT_EQ((*int8)->engine_timings().size(), available.size());
    double best = 1e300;
    for (const EngineTiming& t : (*int8)->engine_timings()) {
      EXPECT_GT(t.median_ms, 0.0);
      best = std::min(best, t.median_ms);
    }
    for (const EngineTiming& t : (*int8)->engine_timings()) {
      if (t.engine == (*int8)->engine()) EXPECT_EQ(t.median_ms, best);
    }
  }
}

// QAT keeps its learned activation ranges, so the int8 model needs no
// calibration and matches the fake-quantized forward pass closely.
TEST(Int8ModelTest, QatModelMatchesItsFakeQuantizedSelf) {
  const data::ImageDataset train = SquaresDataset(30, 4);
  const data::ImageDataset test = SquaresDataset(10, 5);
  auto qat = TrainedCnn(train, /*qat=*/true);
  auto int8 = Int8Model::Create(*qat, test);
  ASSERT_TRUE(int8.ok()) << int8.status();
  auto simulated = qat->Evaluate(test);
  auto real = (*int8)->Evaluate(test);
  ASSERT_TRUE(simulated.ok() && real.ok());
  EXPECT_GT(simulated->accuracy, 0.9);
  EXPECT_NEAR(real->accuracy, simulated->accuracy, 0.03);
}

TEST(Int8ModelTest, BadInputIsInvalidArgument) {
  auto model = Model::Create("mlp", 1);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(Int8Model::Create(**model, data::ImageDataset()).status().code(),
            absl::StatusCode::kInvalidArgument);
  const data::ImageDataset data = SquaresDataset(1, 1);
  auto int8 = Int8Model::Create(**model, data);
  ASSERT_TRUE(int8.ok()) << int8.status();
  EXPECT_EQ((*int8)->Logits(data, 5, 6).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*int8)->Evaluate(data, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::ml
