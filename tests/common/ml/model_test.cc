#include "common/ml/model.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "tests/common/ml/squares_dataset.h"
#include "gtest/gtest.h"

namespace cohort::ml {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::SquaresDataset;

std::unique_ptr<Model> MakeModel(const std::string& arch, uint64_t seed) {
  auto model = Model::Create(arch, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

std::string Serialized(const Model& model) {
  return model.GetWeights().SerializeAsString();
}

std::vector<float> Floats(const cohort::v1::Tensor& tensor) {
  std::vector<float> values(tensor.data().size() / sizeof(float));
  std::memcpy(values.data(), tensor.data().data(), tensor.data().size());
  return values;
}

class ModelArchTest : public ::testing::TestWithParam<std::string> {};

TEST(ModelTest, ZooListsBuiltInsAndRejectsUnknown) {
  EXPECT_THAT(ZooArchitectures(),
              ElementsAre("mlp", "small_cnn", "tiny_cnn", "mobilenet_v2"));
  auto model = Model::Create("resnet152", 1);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("resnet152"));
}

TEST(ModelTest, ParameterCountsMatchArchitectures) {
  auto mlp = MakeModel("mlp", 1);
  auto cnn = MakeModel("small_cnn", 1);
  ASSERT_TRUE(mlp && cnn);
  // 784*96 + 96 + 96*10 + 10.
  EXPECT_EQ(mlp->NumParameters(), 76330);
  // (16*25 + 16) + (32*16*25 + 32) + (512*64 + 64) + (64*10 + 10).
  EXPECT_EQ(cnn->NumParameters(), 46730);
  EXPECT_LT(mlp->NumParameters(), 100000);
  EXPECT_LT(cnn->NumParameters(), 100000);
  EXPECT_EQ(cnn->architecture(), "small_cnn");
}

TEST(ModelTest, SmallCnnWeightsAreNamedAndShaped) {
  auto model = MakeModel("small_cnn", 3);
  ASSERT_TRUE(model);
  const cohort::v1::Weights weights = model->GetWeights();
  std::vector<std::string> names;
  for (const auto& t : weights.tensors()) {
    names.push_back(t.name());
    EXPECT_EQ(t.dtype(), cohort::v1::DTYPE_FLOAT32);
  }
  EXPECT_THAT(names, ElementsAre("conv1.weight", "conv1.bias", "conv2.weight",
                                 "conv2.bias", "fc1.weight", "fc1.bias",
                                 "fc2.weight", "fc2.bias"));
  EXPECT_THAT(weights.tensors(0).shape(), ElementsAre(16, 1, 5, 5));
  EXPECT_THAT(weights.tensors(2).shape(), ElementsAre(32, 16, 5, 5));
  EXPECT_THAT(weights.tensors(4).shape(), ElementsAre(64, 512));
  EXPECT_THAT(weights.tensors(7).shape(), ElementsAre(10));
}

TEST_P(ModelArchTest, WeightsAreConsistentAndBoundedByFanIn) {
  auto model = MakeModel(GetParam(), 5);
  ASSERT_TRUE(model);
  int64_t total = 0;
  int64_t fan_in = 1;
  const cohort::v1::Weights weights = model->GetWeights();
  for (const auto& t : weights.tensors()) {
    int64_t numel = 1;
    for (int64_t d : t.shape()) numel *= d;
    ASSERT_EQ(t.data().size(), static_cast<size_t>(numel) * 4) << t.name();
    total += numel;
    if (t.shape_size() > 1) fan_in = numel / t.shape(0);
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    float largest = 0.0f;
    for (float v : Floats(t)) largest = std::max(largest, std::fabs(v));
    EXPECT_LE(largest, bound * 1.0001f) << t.name();
    EXPECT_GT(largest, bound * 0.5f) << t.name();
  }
  EXPECT_EQ(total, model->NumParameters());
}

TEST_P(ModelArchTest, SameSeedGivesSameWeights) {
  auto a = MakeModel(GetParam(), 42);
  auto b = MakeModel(GetParam(), 42);
  auto c = MakeModel(GetParam(), 43);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(Serialized(*a), Serialized(*b));
  EXPECT_NE(Serialized(*a), Serialized(*c));
}

TEST_P(ModelArchTest, WeightsRoundTripToAnotherInstance) {
  auto source = MakeModel(GetParam(), 1);
  auto target = MakeModel(GetParam(), 2);
  ASSERT_TRUE(source && target);
  ASSERT_NE(Serialized(*source), Serialized(*target));
  ASSERT_TRUE(target->SetWeights(source->GetWeights()).ok());
  EXPECT_EQ(Serialized(*source), Serialized(*target));

  const data::ImageDataset data = SquaresDataset(3, 7);
  auto eval_source = source->Evaluate(data);
  auto eval_target = target->Evaluate(data);
  ASSERT_TRUE(eval_source.ok() && eval_target.ok());
  EXPECT_EQ(eval_source->mean_loss, eval_target->mean_loss);
  EXPECT_EQ(eval_source->accuracy, eval_target->accuracy);
}

TEST_P(ModelArchTest, SetWeightsAcceptsAnyTensorOrder) {
  auto source = MakeModel(GetParam(), 1);
  auto target = MakeModel(GetParam(), 2);
  ASSERT_TRUE(source && target);
  cohort::v1::Weights reversed;
  const cohort::v1::Weights weights = source->GetWeights();
  for (int i = weights.tensors_size() - 1; i >= 0; --i) {
    *reversed.add_tensors() = weights.tensors(i);
  }
  ASSERT_TRUE(target->SetWeights(reversed).ok());
  EXPECT_EQ(Serialized(*source), Serialized(*target));
}

// Each corruption hits the last tensor while the first one carries valid but
// different values, so a partial update would show.
TEST_P(ModelArchTest, SetWeightsMismatchIsRejectedAndModelUnchanged) {
  auto model = MakeModel(GetParam(), 1);
  auto other = MakeModel(GetParam(), 9);
  ASSERT_TRUE(model && other);
  const std::string before = Serialized(*model);
  const cohort::v1::Weights good = other->GetWeights();
  const int last = good.tensors_size() - 1;
  const std::string last_name = good.tensors(last).name();

  std::vector<std::pair<std::string, cohort::v1::Weights>> cases;
  auto add = [&](const std::string& what, auto mutate) {
    cohort::v1::Weights w = good;
    mutate(w);
    cases.emplace_back(what, std::move(w));
  };
  add("shape", [&](auto& w) { w.mutable_tensors(last)->set_shape(0, 11); });
  add("rank", [&](auto& w) { w.mutable_tensors(last)->add_shape(1); });
  add("dtype", [&](auto& w) {
    w.mutable_tensors(last)->set_dtype(cohort::v1::DTYPE_INT8);
  });
  add("short payload",
      [&](auto& w) { w.mutable_tensors(last)->mutable_data()->pop_back(); });
  add("long payload", [&](auto& w) {
    w.mutable_tensors(last)->mutable_data()->append(4, '\0');
  });
  add("unknown name",
      [&](auto& w) { w.mutable_tensors(last)->set_name(last_name + "_x"); });
  add("missing", [&](auto& w) { w.mutable_tensors()->RemoveLast(); });
  add("duplicate", [&](auto& w) { *w.add_tensors() = w.tensors(last); });

  for (const auto& [what, weights] : cases) {
    absl::Status status = model->SetWeights(weights);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(std::string(status.message()), HasSubstr(last_name)) << what;
    EXPECT_EQ(Serialized(*model), before) << what;
  }
  EXPECT_EQ(model->SetWeights(cohort::v1::Weights()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Serialized(*model), before);
}

TEST_P(ModelArchTest, TrainingLearnsSyntheticSquares) {
  SetNumThreads(1);
  auto model = MakeModel(GetParam(), 11);
  ASSERT_TRUE(model);
  const data::ImageDataset train = SquaresDataset(30, 1);
  const data::ImageDataset test = SquaresDataset(10, 2);
  auto before = model->Evaluate(test);
  ASSERT_TRUE(before.ok()) << before.status();

  TrainOptions options;
  options.epochs = 6;
  options.batch_size = 16;
  options.learning_rate = 0.05f;
  options.momentum = 0.9f;
  auto first = model->Train(train, {.epochs = 1,
                                    .batch_size = 16,
                                    .learning_rate = 0.05f,
                                    .momentum = 0.9f,
                                    .seed = 3});
  ASSERT_TRUE(first.ok()) << first.status();
  auto trained = model->Train(train, options);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->num_examples, 300);
  EXPECT_LT(trained->mean_loss, first->mean_loss);

  auto after = model->Evaluate(test);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->num_examples, 100);
  EXPECT_LT(after->mean_loss, before->mean_loss);
  EXPECT_GT(after->accuracy, 0.9);
}

TEST_P(ModelArchTest, TrainingIsReproducibleFromSeeds) {
  SetNumThreads(1);
  const data::ImageDataset train = SquaresDataset(5, 4);
  TrainOptions options{
      .epochs = 2, .batch_size = 8, .momentum = 0.5f, .seed = 77};
  auto a = MakeModel(GetParam(), 1);
  auto b = MakeModel(GetParam(), 1);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Train(train, options).ok());
  ASSERT_TRUE(b->Train(train, options).ok());
  EXPECT_EQ(Serialized(*a), Serialized(*b));

  auto c = MakeModel(GetParam(), 1);
  ASSERT_TRUE(c);
  options.seed = 78;
  ASSERT_TRUE(c->Train(train, options).ok());
  EXPECT_NE(Serialized(*a), Serialized(*c));
}

// The L2 distance between two models' weights.
double Distance(const Model& a, const Model& b) {
  const cohort::v1::Weights wa = a.GetWeights(), wb = b.GetWeights();
  double sum = 0.0;
  for (int i = 0; i < wa.tensors_size(); ++i) {
    const std::vector<float> x = Floats(wa.tensors(i)), y = Floats(wb.tensors(i));
    for (size_t j = 0; j < x.size(); ++j) sum += double(x[j] - y[j]) * (x[j] - y[j]);
  }
  return std::sqrt(sum);
}

// FedProx: at the first step w = w_start, so the proximal gradient
// mu (w - w_start) is zero and one step is plain SGD's; over several steps
// it pulls the weights back, so they end closer to where they started.
TEST_P(ModelArchTest, ProximalTermPullsTowardTheStartingWeights) {
  SetNumThreads(1);
  const data::ImageDataset train = SquaresDataset(5, 4);
  auto start = MakeModel(GetParam(), 2);
  ASSERT_TRUE(start);
  auto trained = [&](float mu, int epochs, int batch) {
    auto m = MakeModel(GetParam(), 2);
    EXPECT_TRUE(m->Train(train, {.epochs = epochs,
                                 .batch_size = batch,
                                 .learning_rate = 0.05f,
                                 .seed = 5,
                                 .proximal_mu = mu})
                    .ok());
    return m;
  };
  // One batch holding every example: one step.
  EXPECT_EQ(Serialized(*trained(0.0f, 1, 1000)), Serialized(*trained(5.0f, 1, 1000)));
  const double plain = Distance(*start, *trained(0.0f, 3, 4));
  const double prox = Distance(*start, *trained(5.0f, 3, 4));
  EXPECT_GT(plain, 0.0);
  EXPECT_LT(prox, 0.8 * plain) << "plain " << plain << ", proximal " << prox;
}

TEST_P(ModelArchTest, EvaluateDoesNotDependOnBatchSize) {
  auto model = MakeModel(GetParam(), 4);
  ASSERT_TRUE(model);
  const data::ImageDataset data = SquaresDataset(7, 5);
  auto whole = model->Evaluate(data, 500);
  auto pieces = model->Evaluate(data, 3);
  ASSERT_TRUE(whole.ok() && pieces.ok());
  EXPECT_EQ(whole->num_examples, 70);
  EXPECT_EQ(whole->accuracy, pieces->accuracy);
  EXPECT_NEAR(whole->mean_loss, pieces->mean_loss, 1e-5);
  // Untrained: near chance, loss near log(10).
  EXPECT_NEAR(whole->mean_loss, std::log(10.0), 0.7);
}

TEST_P(ModelArchTest, BadDataAndOptionsAreInvalidArgument) {
  auto model = MakeModel(GetParam(), 1);
  ASSERT_TRUE(model);
  const std::string before = Serialized(*model);
  const data::ImageDataset good = SquaresDataset(1, 1);
  const auto train_code = [&](const data::ImageDataset& d,
                              const TrainOptions& o) {
    return model->Train(d, o).status().code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;

  EXPECT_EQ(train_code(data::ImageDataset(), {}), kInvalid);
  data::ImageDataset bad_label = good;
  bad_label.labels[3] = 10;
  EXPECT_EQ(train_code(bad_label, {}), kInvalid);
  data::ImageDataset bad_size = good;
  bad_size.height = 27;
  EXPECT_EQ(train_code(bad_size, {}), kInvalid);
  data::ImageDataset short_images = good;
  short_images.images.resize(short_images.images.size() - 1);
  EXPECT_EQ(train_code(short_images, {}), kInvalid);
  data::ImageDataset short_labels = good;
  short_labels.labels.pop_back();
  EXPECT_EQ(train_code(short_labels, {}), kInvalid);

  EXPECT_EQ(train_code(good, {.epochs = 0}), kInvalid);
  EXPECT_EQ(train_code(good, {.batch_size = 0}), kInvalid);
  EXPECT_EQ(train_code(good, {.learning_rate = 0.0f}), kInvalid);
  EXPECT_EQ(train_code(good, {.learning_rate = std::nanf("")}), kInvalid);
  EXPECT_EQ(train_code(good, {.momentum = 1.0f}), kInvalid);
  EXPECT_EQ(train_code(good, {.momentum = -0.1f}), kInvalid);
  EXPECT_EQ(train_code(good, {.proximal_mu = -0.01f}), kInvalid);
  EXPECT_EQ(train_code(good, {.proximal_mu = std::nanf("")}), kInvalid);
  EXPECT_EQ(Serialized(*model), before);

  EXPECT_EQ(model->Evaluate(good, 0).status().code(), kInvalid);
  EXPECT_EQ(model->Evaluate(bad_label).status().code(), kInvalid);
  EXPECT_EQ(model->Evaluate(data::ImageDataset()).status().code(), kInvalid);
}

TEST(ModelTest, SetNumThreadsTwiceDoesNotAbort) {
  SetNumThreads(2);
  SetNumThreads(1);
  SetNumThreads(0);
  auto model = MakeModel("mlp", 1);
  ASSERT_TRUE(model);
  EXPECT_TRUE(model->Evaluate(SquaresDataset(1, 1)).ok());
}

INSTANTIATE_TEST_SUITE_P(Zoo, ModelArchTest,
                         ::testing::Values("mlp", "small_cnn"));

}  // namespace
}  // namespace cohort::ml
