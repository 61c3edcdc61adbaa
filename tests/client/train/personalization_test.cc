#include "client/train/personalization.h"

#include <string>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

void AddTensor(cohort::v1::Weights& w, const std::string& name,
               std::vector<float> values) {
  auto* t = w.add_tensors();
  t->set_name(name);
  t->add_shape(static_cast<int64_t>(values.size()));
  model::SetFloatData(values, t);
}

std::vector<float> Values(const cohort::v1::Weights& w, int i) {
  auto v = model::FloatView(w.tensors(i));
  return {v.begin(), v.end()};
}

cohort::v1::Weights Global() {
  cohort::v1::Weights w;
  AddTensor(w, "body.weight", {1, 2});
  AddTensor(w, "head.weight", {3, 4});
  AddTensor(w, "head.bias", {5});
  return w;
}

model::PersonalLayers Head() {
  cohort::v1::TrainingPlan plan;
  plan.add_personal_layers("head");
  return model::PersonalLayersOf(plan);
}

TEST(PersonalizationTest, FirstRoundStartsFromTheGlobalModel) {
  auto start = PersonalizedModel(Global(), cohort::v1::Weights(), Head());
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(model::SerializeWeights(*start), model::SerializeWeights(Global()));
}

TEST(PersonalizationTest, KeptHeadReplacesTheGlobalHeadOnly) {
  cohort::v1::Weights kept;
  AddTensor(kept, "head.weight", {30, 40});
  AddTensor(kept, "head.bias", {50});
  // Kept before the plan stopped naming it: ignored.
  AddTensor(kept, "body.weight", {-1, -1});
  auto start = PersonalizedModel(Global(), kept, Head());
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(Values(*start, 0), (std::vector<float>{1, 2}));
  EXPECT_EQ(Values(*start, 1), (std::vector<float>{30, 40}));
  EXPECT_EQ(Values(*start, 2), (std::vector<float>{50}));
}

TEST(PersonalizationTest, KeptLayersOfAnotherShapeAreRefused) {
  cohort::v1::Weights kept;
  AddTensor(kept, "head.weight", {30, 40, 50});
  EXPECT_EQ(PersonalizedModel(Global(), kept, Head()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PersonalizationTest, ReportCarriesSharedDeltaAndDeviceKeepsTrainedHead) {
  LocalUpdate update;
  AddTensor(update.delta, "body.weight", {0.5f, -0.5f});
  AddTensor(update.delta, "head.weight", {1, 1});
  AddTensor(update.delta, "head.bias", {-1});
  auto kept = KeepPersonal(Global(), Head(), &update);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_EQ(update.delta.tensors_size(), 1);
  EXPECT_EQ(update.delta.tensors(0).name(), "body.weight");
  EXPECT_EQ(Values(update.delta, 0), (std::vector<float>{0.5f, -0.5f}));
  ASSERT_EQ(kept->tensors_size(), 2);
  EXPECT_EQ(kept->tensors(0).name(), "head.weight");
  EXPECT_EQ(Values(*kept, 0), (std::vector<float>{4, 5}));
  EXPECT_EQ(Values(*kept, 1), (std::vector<float>{4}));
}

TEST(PersonalizationTest, WithoutPersonalLayersTheUpdateIsUntouched) {
  LocalUpdate update;
  AddTensor(update.delta, "body.weight", {0.5f, -0.5f});
  AddTensor(update.delta, "head.weight", {1, 1});
  AddTensor(update.delta, "head.bias", {-1});
  const std::string before = model::SerializeWeights(update.delta);
  auto kept = KeepPersonal(Global(), model::PersonalLayers(), &update);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->tensors_size(), 0);
  EXPECT_EQ(model::SerializeWeights(update.delta), before);
}

}  // namespace
}  // namespace cohort::client
