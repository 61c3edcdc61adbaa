// Model::PruneStructured, Model::PruneUnstructured: magnitude pruning.

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/torch_guard.h"

namespace cohort::ml {
namespace {

using internal::LayerSpec;
using internal::Network;

absl::Status CheckFraction(double fraction) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pruning fraction must be in [0, 1), got ", fraction));
  }
  return absl::OkStatus();
}

// Indices (ascending) of the output channels with the largest L1 norm.
torch::Tensor ChannelsToKeep(const torch::Tensor& weight, double fraction) {
  const int64_t out = weight.size(0);
  const int64_t drop = std::llround(fraction * static_cast<double>(out));
  const int64_t keep = std::max<int64_t>(1, out - drop);
  const torch::Tensor norms = weight.abs().flatten(1).sum(1);
  return std::get<0>(std::get<1>(torch::topk(norms, keep)).sort());
}

// Input columns of `next` fed by the kept channels of the layer before it.
// After a flatten each channel feeds a contiguous block of features.
torch::Tensor InputsToKeep(const LayerSpec& prev, const LayerSpec& next,
                           const torch::Tensor& kept) {
  if (!next.flatten_before || prev.kind != LayerSpec::Kind::kConv2d) {
    return kept;
  }
  const int64_t block = next.in / prev.out;
  const torch::Tensor offsets = torch::arange(block, torch::kLong);
  return (kept.unsqueeze(1) * block + offsets.unsqueeze(0)).flatten();
}

// Structured pruning drops a layer's output channels and the next layer's
// matching inputs; channels tied across layers (a depthwise conv's groups,
// a residual's sum) or carrying batch-norm state are not handled.
absl::Status CheckPrunable(const std::vector<LayerSpec>& specs) {
  for (const LayerSpec& s : specs) {
    if (s.groups > 1 || s.batch_norm || s.residual >= 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "structured pruning handles plain chains; layer ", s.name,
          " has grouped channels, batch norm or a residual"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Model::PruneStructured(double fraction) {
  if (absl::Status s = CheckFraction(fraction); !s.ok()) return s;
  if (absl::Status s = CheckPrunable(impl_->network->specs()); !s.ok()) {
    return s;
  }
  return internal::GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    Network& old = *impl_->network;
    std::vector<LayerSpec> specs = old.specs();
    std::vector<torch::Tensor> weights, biases;
    for (size_t i = 0; i < specs.size(); ++i) {
      weights.push_back(old.weight(i).clone());
      biases.push_back(old.bias(i).defined() ? old.bias(i).clone()
                                             : torch::Tensor());
    }
    // The last layer's outputs are the classes, so it is never pruned.
    for (size_t i = 0; i + 1 < specs.size(); ++i) {
      const torch::Tensor kept = ChannelsToKeep(weights[i], fraction);
      const torch::Tensor inputs = InputsToKeep(specs[i], specs[i + 1], kept);
      weights[i] = weights[i].index_select(0, kept);
      if (biases[i].defined()) biases[i] = biases[i].index_select(0, kept);
      weights[i + 1] = weights[i + 1].index_select(1, inputs);
      specs[i].out = kept.size(0);
      specs[i + 1].in = inputs.size(0);
    }
    auto pruned = std::make_shared<Network>(specs);
    for (size_t i = 0; i < specs.size(); ++i) {
      pruned->weight(i).copy_(weights[i]);
      if (biases[i].defined()) pruned->bias(i).copy_(biases[i]);
    }
    impl_->network = pruned;
    return absl::OkStatus();
  });
}

absl::Status Model::PruneUnstructured(double fraction) {
  if (absl::Status s = CheckFraction(fraction); !s.ok()) return s;
  return internal::GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    Network& network = *impl_->network;
    for (size_t i = 0; i < network.specs().size(); ++i) {
      const torch::Tensor& w = network.weight(i);
      const int64_t drop =
          std::llround(fraction * static_cast<double>(w.numel()));
      torch::Tensor mask = torch::ones_like(w);
      if (drop > 0) {
        const torch::Tensor smallest = std::get<1>(
            torch::topk(w.abs().flatten(), drop, /*dim=*/0, /*largest=*/false));
        mask.view({-1}).index_fill_(0, smallest, 0.0);
      }
      network.SetMask(i, mask);
    }
    return absl::OkStatus();
  });
}

double Model::WeightSparsity() const {
  int64_t zeros = 0;
  int64_t total = 0;
  Network& network = *impl_->network;
  for (size_t i = 0; i < network.specs().size(); ++i) {
    zeros += network.weight(i).eq(0).sum().item<int64_t>();
    total += network.weight(i).numel();
  }
  return total == 0 ? 0.0 : static_cast<double>(zeros) / total;
}

}  // namespace cohort::ml
