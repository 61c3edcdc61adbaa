#ifndef COHORT_COMMON_ML_MODEL_H_
#define COHORT_COMMON_ML_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "common/data/dataset.h"

namespace cohort::ml {

// This header is LibTorch-free on purpose: server, client and sim include it
// without pulling in torch headers. Only common/ml/*.cc include <torch/...>,
// and every c10::Error is converted to absl::Status there.

struct TrainOptions {
  int epochs = 1;
  int batch_size = 32;
  float learning_rate = 0.05f;
  float momentum = 0.0f;
  // Seeds the per-epoch shuffle so local training is reproducible.
  uint64_t seed = 1;
};

struct TrainResult {
  // Mean loss over the last epoch.
  double mean_loss = 0.0;
  int64_t num_examples = 0;
};

struct EvalResult {
  double accuracy = 0.0;
  double mean_loss = 0.0;
  int64_t num_examples = 0;
};

// Names of the built-in architectures: "mlp" (784-96-10, ~76K parameters) and
// "small_cnn" (two 5x5 conv layers + two linear, under 100K parameters).
std::vector<std::string> ZooArchitectures();

// Limits LibTorch's intra-op threads for the whole process (n < 1 means 1).
// The first call also sizes the inter-op pool, which LibTorch allows only
// once; later calls change only the intra-op count. Never aborts.
void SetNumThreads(int n);

// One model instance: an architecture from the zoo plus its fp32 weights.
// Owns its LibTorch module. Not thread-safe; use one instance per thread.
class Model {
 public:
  // INVALID_ARGUMENT for an unknown architecture. Weights are initialised from
  // `seed`, so the same (architecture, seed) gives the same weights.
  static absl::StatusOr<std::unique_ptr<Model>> Create(
      const std::string& architecture, uint64_t seed);
  ~Model();

  const std::string& architecture() const;
  int64_t NumParameters() const;

  // Every parameter as a FLOAT32 Tensor named as in the module
  // (e.g. "conv1.weight"), in a fixed order.
  cohort::v1::Weights GetWeights() const;
  // INVALID_ARGUMENT if a name, shape or dtype does not match, or a payload
  // has the wrong size. The model is unchanged on error.
  absl::Status SetWeights(const cohort::v1::Weights& weights);

  // Local SGD on `data` (images scaled to [0,1], then normalised).
  // INVALID_ARGUMENT for an empty or malformed data set (as for Evaluate) or
  // bad options (epochs or batch_size < 1, learning_rate not > 0, momentum
  // outside [0, 1)); INTERNAL if LibTorch fails.
  absl::StatusOr<TrainResult> Train(const data::ImageDataset& data,
                                    const TrainOptions& options);
  // Accuracy and mean cross-entropy over `data`. INVALID_ARGUMENT for an
  // empty or malformed data set (not 28x28, sizes inconsistent, label >= 10)
  // or batch_size < 1; INTERNAL if LibTorch fails.
  absl::StatusOr<EvalResult> Evaluate(const data::ImageDataset& data,
                                      int batch_size = 500);

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::ml

#endif  // COHORT_COMMON_ML_MODEL_H_
