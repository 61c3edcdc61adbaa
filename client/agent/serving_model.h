#ifndef COHORT_CLIENT_AGENT_SERVING_MODEL_H_
#define COHORT_CLIENT_AGENT_SERVING_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "cohort/v1/model.pb.h"
#include "common/data/dataset.h"

namespace cohort::ml {
class Model;
class Int8Model;
}  // namespace cohort::ml

namespace cohort::client {

// Which model answers: what Predict reports with every answer.
struct ServedModelInfo {
  std::string architecture;
  // Hex SHA-256 of the serialized Weights: the same model is not loaded
  // twice.
  std::string sha256;
  // The global version and its signed release (0: unsigned).
  int64_t version = 0;
  int64_t release = 0;
  // "fp32", or "int8/" and the quantized engine ("int8/qnnpack").
  std::string kernels;
};

// One Predict answer for a batch of B inputs.
struct Prediction {
  // B labels, each the arg max of its row.
  std::vector<int32_t> labels;
  // B x num_classes softmax probabilities, row-major.
  std::vector<float> probabilities;
  int num_classes = 0;
};

// The inputs Predict takes: one greyscale 28 x 28 image per example, as
// float32 intensities in [0, 1] (the zoo's and the imported models' input,
// [N, 1, 28, 28]).
inline constexpr int kServingHeight = 28;
inline constexpr int kServingWidth = 28;
inline constexpr int64_t kServingValues = kServingHeight * kServingWidth;

// A verified global model made ready for inference on the device: fp32, or
// int8 kernels (common/ml/int8_model.h) when its weights are int8 or the
// operator asks for them. Inputs become 8-bit pixels (round(255 v)), as
// training reads them, so an answer matches what the model was trained and
// evaluated on; values k / 255 are exact.
//
// Thread-safe: calls are serialised (LibTorch modules are not re-entrant),
// int8 ones across all ServingModels of the process, because the quantized
// engine is a process-wide LibTorch setting.
class ServingModel {
 public:
  // `weights` of info.architecture, fp32 or int8 (quantized artifacts are
  // dequantized for the fp32 path). Int8 kernels when `weights` are int8
  // or `int8_kernels`; their activation ranges are calibrated on up to
  // 1,000 of `calibration`'s examples. Without calibration examples an
  // int8 request is served on fp32 kernels (logged): an uncalibrated int8
  // model would answer wrongly. info.kernels is set here.
  // INVALID_ARGUMENT if the weights do not fit the architecture; INTERNAL
  // if LibTorch fails.
  static absl::StatusOr<std::unique_ptr<ServingModel>> Create(
      const cohort::v1::Weights& weights, ServedModelInfo info,
      bool int8_kernels, const data::ImageDataset& calibration);
  ~ServingModel();

  // The model's answer for `batch` inputs of kServingValues values each.
  // INVALID_ARGUMENT if batch < 1, features.size() != batch *
  // kServingValues, or a value is NaN, infinite or outside [0, 1] (the
  // message names the input and the index); INTERNAL if LibTorch fails.
  absl::StatusOr<Prediction> Predict(absl::Span<const float> features,
                                     int batch);

  const ServedModelInfo& info() const { return info_; }

 private:
  ServingModel(ServedModelInfo info, std::unique_ptr<ml::Model> fp32,
               std::unique_ptr<ml::Int8Model> int8);

  absl::StatusOr<std::vector<float>> Logits(const data::ImageDataset& data);

  const ServedModelInfo info_;
  absl::Mutex mu_;
  std::unique_ptr<ml::Model> fp32_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ml::Int8Model> int8_ ABSL_GUARDED_BY(mu_);
};

// The model the local API serves now. Swap replaces it atomically: a call
// in flight keeps the model it started with (a shared_ptr), the next one
// gets the new model, and none is dropped. Thread-safe.
class ServedModel {
 public:
  // Null while the device holds no verified model.
  std::shared_ptr<ServingModel> Current() const;
  void Swap(std::shared_ptr<ServingModel> model);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<ServingModel> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_SERVING_MODEL_H_
