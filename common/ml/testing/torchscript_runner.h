#ifndef COHORT_COMMON_ML_TESTING_TORCHSCRIPT_RUNNER_H_
#define COHORT_COMMON_ML_TESTING_TORCHSCRIPT_RUNNER_H_

// Test support: runs a TorchScript module file as an application would
// (torch::jit::load, then forward), to check Model::ExportTorchScript
// against Model::Logits. Torch-free header.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"

namespace cohort::ml::testing {

// forward() of the module at `path` on images [start, start + count) of
// `data`, given as float pixel / 255 [count, 1, 28, 28]; the logits
// row-major. INTERNAL if LibTorch fails to load or run it.
absl::StatusOr<std::vector<float>> RunTorchScript(const std::string& path,
                                                  const data::ImageDataset& data,
                                                  int64_t start, int64_t count);

}  // namespace cohort::ml::testing

#endif  // COHORT_COMMON_ML_TESTING_TORCHSCRIPT_RUNNER_H_
