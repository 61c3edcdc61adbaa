// Model::ExportTorchScript: the layer chain as a TorchScript module whose
// forward is generated source, compiled by LibTorch and saved.

#include <torch/csrc/jit/api/module.h>
#include <torch/script.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/network.h"
#include "common/ml/torch_guard.h"

namespace cohort::ml {
namespace {

using internal::LayerSpec;

// One layer of forward(), as Network::Forward computes it in eval mode.
std::string LayerSource(const LayerSpec& spec, bool bias) {
  const std::string self = absl::StrCat("self.", spec.name);
  const std::string b = bias ? absl::StrCat(self, ".bias") : "None";
  std::string out;
  if (spec.flatten_before) out += "    x = torch.flatten(x, 1)\n";
  if (spec.kind == LayerSpec::Kind::kConv2d) {
    absl::StrAppend(&out, "    x = torch.conv2d(x, ", self, ".weight, ", b,
                    ", [", spec.stride, ", ", spec.stride, "], [",
                    spec.padding, ", ", spec.padding, "])\n");
  } else if (bias) {
    absl::StrAppend(&out, "    x = torch.addmm(", b, ", x, ", self,
                    ".weight.t())\n");
  } else {
    absl::StrAppend(&out, "    x = torch.matmul(x, ", self, ".weight.t())\n");
  }
  if (spec.relu) out += "    x = torch.relu(x)\n";
  if (spec.pool > 0) {
    absl::StrAppend(&out, "    x = torch.max_pool2d(x, [", spec.pool, ", ",
                    spec.pool, "], [", spec.pool_stride, ", ",
                    spec.pool_stride, "])\n");
  }
  return out;
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
    for (size_t i = 0; i < net.specs().size(); ++i) {
      const LayerSpec& spec = net.specs()[i];
      torch::jit::Module layer(absl::StrCat("__torch__.cohort.", spec.name),
                               unit, /*shouldMangle=*/true);
      layer.register_parameter("weight", net.weight(i).detach().clone(),
                               /*is_buffer=*/false);
      const bool bias = net.bias(i).defined();
      if (bias) {
        layer.register_parameter("bias", net.bias(i).detach().clone(), false);
      }
      root.register_module(spec.name, layer);
      source += LayerSource(spec, bias);
    }
    source += "    return x\n";
    root.define(source);
    root.eval();
    root.save(path);
    return absl::OkStatus();
  });
}

}  // namespace cohort::ml
