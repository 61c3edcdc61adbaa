#include "common/model/personal_layers.h"

#include <string>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::model {
namespace {

void AddTensor(cohort::v1::Weights& w, const std::string& name,
               std::vector<float> values) {
  auto* t = w.add_tensors();
  t->set_name(name);
  t->add_shape(static_cast<int64_t>(values.size()));
  SetFloatData(values, t);
}

// conv1.weight, fc1.weight, fc1.bias, fc10.weight: "fc1" must not match
// "fc10".
cohort::v1::Weights Model() {
  cohort::v1::Weights w;
  AddTensor(w, "conv1.weight", {1, 2});
  AddTensor(w, "fc1.weight", {3, 4, 5});
  AddTensor(w, "fc1.bias", {6});
  AddTensor(w, "fc10.weight", {7});
  return w;
}

std::vector<std::string> Names(const cohort::v1::Weights& w) {
  std::vector<std::string> names;
  for (const auto& t : w.tensors()) names.push_back(t.name());
  return names;
}

TEST(PersonalLayersTest, LayerNameMatchesItsTensorsOnlyTensorNameMatchesItself) {
  PersonalLayers layer({"fc1"});
  EXPECT_TRUE(layer.IsPersonal("fc1.weight"));
  EXPECT_TRUE(layer.IsPersonal("fc1.bias"));
  EXPECT_FALSE(layer.IsPersonal("fc10.weight"));
  EXPECT_FALSE(layer.IsPersonal("fc"));
  PersonalLayers tensor({"fc1.bias"});
  EXPECT_TRUE(tensor.IsPersonal("fc1.bias"));
  EXPECT_FALSE(tensor.IsPersonal("fc1.weight"));
  EXPECT_FALSE(PersonalLayers().IsPersonal("fc1.bias"));
}

TEST(PersonalLayersTest, SplitKeepsOrderAndCoversEveryTensorOnce) {
  PersonalLayers p({"fc1"});
  EXPECT_EQ(Names(p.Shared(Model())),
            (std::vector<std::string>{"conv1.weight", "fc10.weight"}));
  EXPECT_EQ(Names(p.Personal(Model())),
            (std::vector<std::string>{"fc1.weight", "fc1.bias"}));
  EXPECT_EQ(Names(PersonalLayers().Shared(Model())), Names(Model()));
  EXPECT_EQ(PersonalLayers().Personal(Model()).tensors_size(), 0);
}

TEST(PersonalLayersTest, ValidateRefusesEmptyRepeatedUnknownAndAllPersonal) {
  EXPECT_TRUE(PersonalLayers({"fc1", "conv1.weight"}).Validate(Model()).ok());
  EXPECT_TRUE(PersonalLayers().Validate(Model()).ok());
  auto refused = [](std::vector<std::string> entries, const std::string& says) {
    absl::Status s = PersonalLayers(std::move(entries)).Validate(Model());
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << says;
    EXPECT_NE(s.message().find(says), std::string::npos) << s;
  };
  refused({""}, "empty");
  refused({"fc1", "fc1"}, "'fc1' is listed twice");
  refused({"fc2"}, "'fc2' names no tensor");
  refused({"fc1.w"}, "'fc1.w' names no tensor");
  refused({"conv1", "fc1", "fc10"}, "nothing is left to federate");
}

TEST(PersonalLayersTest, OverlayReplacesByNameAndKeepsTheRest) {
  cohort::v1::Weights mine;
  AddTensor(mine, "fc1.bias", {-6});
  AddTensor(mine, "conv1.weight", {-1, -2});
  auto merged = Overlay(Model(), mine);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(Names(*merged), Names(Model()));
  EXPECT_EQ(FloatView(merged->tensors(0))[1], -2.0f);
  EXPECT_EQ(FloatView(merged->tensors(1))[2], 5.0f);
  EXPECT_EQ(FloatView(merged->tensors(2))[0], -6.0f);
  // Splitting and overlaying give the model back.
  PersonalLayers p({"fc1"});
  auto whole = Overlay(Model(), p.Personal(Model()));
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(SerializeWeights(*whole), SerializeWeights(Model()));
}

TEST(PersonalLayersTest, OverlayRefusesUnknownRepeatedAndMisshapenTensors) {
  cohort::v1::Weights unknown;
  AddTensor(unknown, "head.weight", {1});
  EXPECT_EQ(Overlay(Model(), unknown).status().code(),
            absl::StatusCode::kInvalidArgument);
  cohort::v1::Weights twice;
  AddTensor(twice, "fc1.bias", {1});
  AddTensor(twice, "fc1.bias", {2});
  EXPECT_EQ(Overlay(Model(), twice).status().code(),
            absl::StatusCode::kInvalidArgument);
  cohort::v1::Weights misshapen;
  AddTensor(misshapen, "fc1.bias", {1, 2});
  absl::Status s = Overlay(Model(), misshapen).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("shape"), std::string::npos);
}

}  // namespace
}  // namespace cohort::model
