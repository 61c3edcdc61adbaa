#include "client/agent/serving_model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/examples/feature_codec.h"
#include "client/examples/population_schema.h"
#include "common/base/status_macros.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/model/quantize.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

// LibTorch's quantized engine is one setting for the whole process: every
// int8 call, and every int8 model's creation (which may time both engines),
// holds this lock.
absl::Mutex& Int8Lock() {
  static absl::Mutex* const mu = new absl::Mutex;
  return *mu;
}

// Checks every input and converts the batch to the pixels training reads.
absl::StatusOr<data::ImageDataset> InputsOf(absl::Span<const float> features,
                                            int batch) {
  if (batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch must be >= 1, got ", batch));
  }
  const int64_t expected = int64_t{batch} * kServingValues;
  if (static_cast<int64_t>(features.size()) != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", expected, " values for ", batch, " inputs of shape [1,",
        kServingHeight, ",", kServingWidth, "], got ", features.size()));
  }
  // The store's rules for a value (finite, in [0, 1]) and its messages.
  const PopulationSchema input{"input", {1, kServingHeight, kServingWidth}, 2};
  for (int i = 0; i < batch; ++i) {
    absl::Status ok = ValidateExample(
        input, features.subspan(i * kServingValues, kServingValues), 0);
    if (!ok.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, ": ", ok.message()));
    }
  }
  FeatureBatch inputs;
  inputs.shape = input.shape;
  inputs.num_examples = batch;
  inputs.features.assign(features.begin(), features.end());
  inputs.labels.assign(batch, 0);
  COHORT_ASSIGN_OR_RETURN(data::ImageDataset data,
                          ToImageDataset(inputs, input.num_classes));
  data.num_classes = 10;  // the models' output; labels are not read
  return data;
}

// Softmax of each row of `logits` and its arg max.
Prediction FromLogits(const std::vector<float>& logits, int batch) {
  Prediction p;
  p.num_classes = static_cast<int>(logits.size() / batch);
  p.probabilities.resize(logits.size());
  p.labels.resize(batch);
  for (int i = 0; i < batch; ++i) {
    const float* row = logits.data() + int64_t{i} * p.num_classes;
    float* out = p.probabilities.data() + int64_t{i} * p.num_classes;
    const float top = *std::max_element(row, row + p.num_classes);
    double sum = 0;
    for (int c = 0; c < p.num_classes; ++c) {
      out[c] = std::exp(row[c] - top);
      sum += out[c];
    }
    for (int c = 0; c < p.num_classes; ++c) out[c] /= sum;
    p.labels[i] = static_cast<int32_t>(
        std::max_element(row, row + p.num_classes) - row);
  }
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServingModel>> ServingModel::Create(
    const cohort::v1::Weights& weights, ServedModelInfo info,
    bool int8_kernels, const data::ImageDataset& calibration) {
  const bool quantized = model::IsQuantized(weights);
  cohort::v1::Weights fp32 = weights;
  if (quantized) {
    COHORT_ASSIGN_OR_RETURN(fp32, model::DequantizeWeights(weights));
  }
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ml::Model> model,
                          ml::Model::Create(info.architecture, /*seed=*/1));
  COHORT_RETURN_IF_ERROR(model->SetWeights(fp32));
  std::unique_ptr<ml::Int8Model> int8;
  if ((quantized || int8_kernels) && calibration.num_examples < 1) {
    LOG(WARNING) << "serving version " << info.version
                 << " on fp32 kernels: int8 needs local examples to "
                 << "calibrate its activation ranges, and there are none yet";
  } else if (quantized || int8_kernels) {
    absl::MutexLock lock(&Int8Lock());
    COHORT_ASSIGN_OR_RETURN(int8, ml::Int8Model::Create(*model, calibration));
  }
  info.kernels =
      int8 != nullptr ? absl::StrCat("int8/", ml::QEngineName(int8->engine()))
                      : "fp32";
  return std::unique_ptr<ServingModel>(
      new ServingModel(std::move(info), std::move(model), std::move(int8)));
}

ServingModel::ServingModel(ServedModelInfo info,
                           std::unique_ptr<ml::Model> fp32,
                           std::unique_ptr<ml::Int8Model> int8)
    : info_(std::move(info)), fp32_(std::move(fp32)), int8_(std::move(int8)) {}

ServingModel::~ServingModel() = default;

absl::StatusOr<std::vector<float>> ServingModel::Logits(
    const data::ImageDataset& data) {
  absl::MutexLock lock(&mu_);
  if (int8_ == nullptr) return fp32_->Logits(data, 0, data.num_examples);
  absl::MutexLock engine(&Int8Lock());
  return int8_->Logits(data, 0, data.num_examples);
}

absl::StatusOr<Prediction> ServingModel::Predict(
    absl::Span<const float> features, int batch) {
  COHORT_ASSIGN_OR_RETURN(const data::ImageDataset inputs,
                          InputsOf(features, batch));
  COHORT_ASSIGN_OR_RETURN(const std::vector<float> logits, Logits(inputs));
  if (logits.empty() || logits.size() % batch != 0) {
    return absl::InternalError(absl::StrCat(
        "the model gave ", logits.size(), " logits for ", batch, " inputs"));
  }
  return FromLogits(logits, batch);
}

std::shared_ptr<ServingModel> ServedModel::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void ServedModel::Swap(std::shared_ptr<ServingModel> model) {
  std::shared_ptr<ServingModel> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::exchange(current_, std::move(model));
  }
  // The old model is freed here, outside the lock, unless a call still
  // holds it; then the call frees it when it ends.
}

}  // namespace cohort::client
