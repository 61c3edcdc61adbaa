// Model::ExportTorchScript: the layer chain as a TorchScript module whose
// forward is generated source, compiled by LibTorch and saved.

#include <torch/csrc/jit/api/module.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/network.h"
#include "common/ml/torch_guard.h"

namespace cohort::ml {
namespace {

using internal::LayerSpec;

std::string ActivationSource(LayerSpec::Activation activation) {
  switch (activation) {
    case LayerSpec::Activation::kRelu:
      return "    x = torch.relu(x)\n";
    case LayerSpec::Activation::kRelu6:
      return "    x = torch.clamp(x, 0.0, 6.0)\n";
    case LayerSpec::Activation::kHardswish:
      return "    x = x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0\n";
    case LayerSpec::Activation::kNone:
      break;
  }
  return "";
}

std::string PoolSource(const LayerSpec& spec) {
  if (spec.pool_kind == LayerSpec::Pool::kGlobalAvg) {
    return "    x = torch.adaptive_avg_pool2d(x, [1, 1])\n";
  }
  if (spec.pool == 0) return "";
  return absl::StrCat(
      "    x = torch.",
      spec.pool_kind == LayerSpec::Pool::kAvg ? "avg_pool2d" : "max_pool2d",
      "(x, [", spec.pool, ", ", spec.pool, "], [", spec.pool_stride, ", ",
      spec.pool_stride, "])\n");
}

// One layer of forward(), as Network::Forward computes it in eval mode
// (batch norm folded into the weights this module holds). The input of
// layer i is kept as x<i> when a later residual reads it.
std::string LayerSource(const LayerSpec& spec, bool bias, size_t index,
                        bool keep_input) {
  const std::string self = absl::StrCat("self.", spec.name);
  const std::string b = bias ? absl::StrCat(self, ".bias") : "None";
  std::string out;
  if (keep_input) absl::StrAppend(&out, "    x", index, " = x\n");
  if (spec.flatten_before) out += "    x = torch.flatten(x, 1)\n";
  if (spec.kind == LayerSpec::Kind::kConv2d) {
    absl::StrAppend(&out, "    x = torch.conv2d(x, ", self, ".weight, ", b,
                    ", [", spec.stride, ", ", spec.stride, "], [",
                    spec.padding, ", ", spec.padding, "], [1, 1], ",
                    spec.groups, ")\n");
  } else if (bias) {
    absl::StrAppend(&out, "    x = torch.addmm(", b, ", x, ", self,
                    ".weight.t())\n");
  } else {
    absl::StrAppend(&out, "    x = torch.matmul(x, ", self, ".weight.t())\n");
  }
  if (spec.residual >= 0) absl::StrAppend(&out, "    x = x + x", spec.residual, "\n");
  return out + ActivationSource(spec.activation) + PoolSource(spec);
}

std::vector<bool> KeptInputs(const std::vector<LayerSpec>& specs) {
  std::vector<bool> kept(specs.size(), false);
  for (const LayerSpec& spec : specs) {
    if (spec.residual >= 0) kept[static_cast<size_t>(spec.residual)] = true;
  }
  return kept;
}

}  // namespace

absl::Status Model::ExportTorchScript(const std::string& path) const {
  return internal::GuardTorch([&]() -> absl::Status {
    internal::Network& net = *impl_->network;
    auto unit = std::make_shared<torch::jit::CompilationUnit>();
    torch::jit::Module root("__torch__.cohort.Model", unit,
                            /*shouldMangle=*/true);
    std::string source = absl::StrCat(
        "def forward(self, x: Tensor) -> Tensor:\n    x = (x - ",
        internal::kPixelMean, ") / ", internal::kPixelStd, "\n");
    torch::NoGradGuard no_grad;
    const std::vector<bool> kept = KeptInputs(net.specs());
    for (size_t i = 0; i < net.specs().size(); ++i) {
      const LayerSpec& spec = net.specs()[i];
      torch::jit::Module layer(absl::StrCat("__torch__.cohort.", spec.name),
                               unit, /*shouldMangle=*/true);
      const auto [weight, bias] = net.FoldedWeights(i);
      layer.register_parameter("weight", weight.detach().clone(),
                               /*is_buffer=*/false);
      if (bias.defined()) {
        layer.register_parameter("bias", bias.detach().clone(), false);
      }
      root.register_module(spec.name, layer);
      source += LayerSource(spec, bias.defined(), i, kept[i]);
    }
    source += "    return x\n";
    root.define(source);
    root.eval();
    root.save(path);
    return absl::OkStatus();
  });
}

}  // namespace cohort::ml
