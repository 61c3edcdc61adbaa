#ifndef COHORT_COMMON_ML_ZOO_H_
#define COHORT_COMMON_ML_ZOO_H_

// Internal to common/ml: the built-in architectures ("mlp", "small_cnn",
// "tiny_cnn"; ml::ZooArchitectures() lists them) as Networks.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/ml/network.h"

namespace cohort::ml::internal {

// Builds `architecture` with weights drawn from `seed` only (uniform in
// +-1/sqrt(fan_in), PyTorch's default scale), independent of LibTorch's
// global generator so concurrent Create() calls stay reproducible.
// INVALID_ARGUMENT for an unknown architecture.
absl::StatusOr<std::shared_ptr<Network>> BuildNetwork(
    const std::string& architecture, uint64_t seed);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_ZOO_H_
