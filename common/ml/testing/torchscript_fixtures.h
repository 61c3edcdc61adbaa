#ifndef COHORT_COMMON_ML_TESTING_TORCHSCRIPT_FIXTURES_H_
#define COHORT_COMMON_ML_TESTING_TORCHSCRIPT_FIXTURES_H_

// Test support: writes small TorchScript modules to disk with LibTorch's own
// TorchScript compiler, so tests need no Python. The modules up to kResidual
// mirror those in tests/testdata/torchscript/make_modules.py (which writes
// them from PyTorch when python3-torch is installed); the later ones exist
// only here. Submodules are spelled as scripting nn modules spells them
// (nn.Sequential's children "0", "1", ... and a `training` attribute where
// forward reads it), so the importer sees the graph PyTorch would give it.
// Torch-free header.

#include <string>

#include "absl/status/status.h"

namespace cohort::ml::testing {

enum class Fixture {
  // Conv(1->4, 3x3, pad 1) + ReLU + MaxPool(2), Flatten, Linear(784->16) +
  // ReLU, Dropout(0.1) (train=self.training, as nn.Dropout), Linear(16->10);
  // submodules "features.conv", "classifier.fc1", "classifier.drop",
  // "classifier.fc2".
  kChainCnn,
  // forward returns zeros [N, 10]: no parameters at all.
  kNoParameters,
  // A conv expecting 3 input channels.
  kWrongInput,
  // Conv + sigmoid + linear: sigmoid has no place in the int8 chain.
  kUnsupportedOp,
  // Two linear branches added together: not a single chain.
  kResidual,
  // features = Sequential(Conv2d(1, 4, 3, padding=1), ReLU, MaxPool2d(2),
  // BatchNorm2d(4)), then fc = Linear(784, 10): "features.3" is refused.
  kBatchNorm,
  // features = Sequential(Conv2d(1, 4, 3, padding="same")), then
  // fc = Linear(3136, 10): importable with padding 1.
  kSamePadding,
  // As kSamePadding with a 4x4 kernel, which PyTorch pads unevenly.
  kSamePaddingEvenKernel,
  // features = Sequential(Conv2d(1, 4, 3, padding=1), Dropout(0.25),
  // MaxPool2d(2)), then fc = Linear(784, 10): pooling after dropout.
  kDropoutBeforePool,
  // features = Sequential(Conv2d(1, 4, 3, padding=1)), then fc =
  // Linear(3136, 10) whose weight has requires_grad=False.
  kFrozenLayer,
};

// Writes `fixture` to `path` (seeded, deterministic). INTERNAL on failure.
absl::Status WriteTorchScriptFixture(Fixture fixture, const std::string& path);

}  // namespace cohort::ml::testing

#endif  // COHORT_COMMON_ML_TESTING_TORCHSCRIPT_FIXTURES_H_
