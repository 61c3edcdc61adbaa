#ifndef COHORT_COMMON_ML_ZOO_H_
#define COHORT_COMMON_ML_ZOO_H_

// Internal to common/ml: the built-in architectures as LibTorch modules.
// Nothing outside common/ml may include this header (it pulls in torch).

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cohort::ml::internal {

inline constexpr int kImageSide = 28;
inline constexpr int kNumClasses = 10;

// A zoo network: maps a float batch [N, 1, 28, 28] to logits [N, 10].
// Parameters are the registered submodules' weights and biases, named
// "<submodule>.weight" / "<submodule>.bias". Not thread-safe.
class Network : public torch::nn::Module {
 public:
  virtual torch::Tensor Forward(const torch::Tensor& input) = 0;
};

// Builds `architecture` with weights drawn from `seed` only (uniform in
// +-1/sqrt(fan_in), PyTorch's default scale), independent of LibTorch's
// global generator so concurrent Create() calls stay reproducible.
// INVALID_ARGUMENT for an unknown architecture.
absl::StatusOr<std::shared_ptr<Network>> BuildNetwork(
    const std::string& architecture, uint64_t seed);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_ZOO_H_
