#ifndef COHORT_COMMON_ML_TESTING_TORCHSCRIPT_FIXTURES_H_
#define COHORT_COMMON_ML_TESTING_TORCHSCRIPT_FIXTURES_H_

// Test support: writes small TorchScript modules to disk with LibTorch's own
// TorchScript compiler, so tests need no Python. Each module mirrors one in
// tests/testdata/torchscript/make_modules.py (which writes the same modules
// from PyTorch when python3-torch is installed). Torch-free header.

#include <string>

#include "absl/status/status.h"

namespace cohort::ml::testing {

enum class Fixture {
  // Conv(1->4, 3x3, pad 1) + ReLU + MaxPool(2), Flatten, Linear(784->16) +
  // ReLU, Dropout, Linear(16->10); submodules as nn.Sequential would name
  // them ("features.0", "classifier.0", ...).
  kChainCnn,
  // forward returns zeros [N, 10]: no parameters at all.
  kNoParameters,
  // A conv expecting 3 input channels.
  kWrongInput,
  // Conv + sigmoid + linear: sigmoid has no place in the int8 chain.
  kUnsupportedOp,
  // Two linear branches added together: not a single chain.
  kResidual,
};

// Writes `fixture` to `path` (seeded, deterministic). INTERNAL on failure.
absl::Status WriteTorchScriptFixture(Fixture fixture, const std::string& path);

}  // namespace cohort::ml::testing

#endif  // COHORT_COMMON_ML_TESTING_TORCHSCRIPT_FIXTURES_H_
