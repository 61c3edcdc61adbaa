// Model::ImportTorchScript: bring-your-own-model through TorchScript.
//
// The module file is the operator's own (a local path given to cohortctl or
// the coordinator); it is unpickled only here. Its parameters are copied
// into a Network, so weights then travel as model.proto like any zoo model.

#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/chain_spec.h"
#include "common/ml/torch_guard.h"
#include "common/ml/torchscript_chain.h"
#include "common/ml/torchscript_load.h"
#include "common/ml/zoo.h"

namespace cohort::ml {
namespace {

using internal::ChainLayer;
using internal::Network;

constexpr uintmax_t kMaxModuleBytes = 64u << 20;
constexpr int64_t kProbeBatch = 3;


// The TorchScript interpreter wraps the failing op's message in a long
// traceback; the line that says what went wrong comes last.
std::string Reason(const std::string& what) {
  const size_t at = what.rfind("RuntimeError: ");
  if (at == std::string::npos) return internal::FirstReasonLine(what);
  return internal::FirstReasonLine(what.substr(at + std::string("RuntimeError: ").size()));
}

std::string ShapeString(at::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

absl::Status CheckFile(const std::string& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("cannot read TorchScript file ", path, ": ",
                     error.message()));
  }
  if (size > kMaxModuleBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("TorchScript file ", path, " is ", size,
                     " bytes; the limit is ", kMaxModuleBytes));
  }
  return absl::OkStatus();
}

// Runs the module on a probe batch: it must take [N, 1, 28, 28] and give
// [N, 10]. Returns the output for comparison with the translation.
absl::StatusOr<at::Tensor> Probe(torch::jit::Module& module,
                                 const at::Tensor& input) {
  torch::jit::IValue output;
  try {
    output = module.forward({input});
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("module does not accept input [N, 1, 28, 28]: ",
                     Reason(e.what_without_backtrace())));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module does not accept input [N, 1, 28, 28]: ", Reason(e.what())));
  }
  if (!output.isTensor()) {
    return absl::InvalidArgumentError(
        absl::StrCat("module returns ", output.tagKind(), ", want a tensor"));
  }
  at::Tensor logits = output.toTensor();
  if (logits.dim() != 2 || logits.size(0) != input.size(0) ||
      logits.size(1) != internal::kNumClasses) {
    return absl::InvalidArgumentError(
        absl::StrCat("module maps [", input.size(0), ", 1, 28, 28] to ",
                     ShapeString(logits.sizes()), ", want [",
                     input.size(0), ", 10]"));
  }
  return logits;
}

using ParamMap = std::map<std::string, at::Tensor>;

ParamMap Parameters(torch::jit::Module& module) {
  ParamMap params;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    params[p.name] = p.value;
  }
  return params;
}

ParamMap Buffers(torch::jit::Module& module) {
  ParamMap buffers;
  for (const auto& b : module.named_buffers(/*recurse=*/true)) {
    buffers[b.name] = b.value;
  }
  return buffers;
}

// The trained parameters a layer reads: weight, bias, batch norm's scale
// and shift.
std::vector<std::string> TrainedPaths(const ChainLayer& layer) {
  std::vector<std::string> paths = {layer.weight_path, layer.bias_path};
  if (!layer.batch_norm_path.empty()) {
    paths.push_back(layer.batch_norm_path + ".weight");
    paths.push_back(layer.batch_norm_path + ".bias");
  }
  return paths;
}

absl::Status Refuse(const ChainLayer& layer, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat(internal::DescribeLayer(layer), ": ", why));
}

// Cohort trains every parameter of the chain on its own, so a parameter
// PyTorch would not train (requires_grad=False) or one that feeds two
// places (tied weights) would train differently here: refused.
absl::Status CheckTrainable(const std::vector<ChainLayer>& chain,
                            const ParamMap& params) {
  std::vector<std::pair<std::string, at::Tensor>> seen;
  for (const ChainLayer& layer : chain) {
    for (const std::string& path : TrainedPaths(layer)) {
      if (path.empty()) continue;
      const auto it = params.find(path);
      if (it == params.end()) {
        return Refuse(layer, absl::StrCat(path, " is not a parameter (a "
                                                "buffer or constant?)"));
      }
      if (!it->second.requires_grad()) {
        return Refuse(layer, absl::StrCat("parameter ", path,
                                          " has requires_grad=False (frozen);"
                                          " Cohort trains every layer"));
      }
      for (const auto& [other, tensor] : seen) {
        if (!tensor.is_alias_of(it->second)) continue;
        return Refuse(layer, absl::StrCat("parameter ", path,
                                          " shares its storage with ", other,
                                          " (tied weights), which Cohort "
                                          "would train apart"));
      }
      seen.emplace_back(path, it->second);
    }
  }
  return absl::OkStatus();
}

// The layer's sizes from its weight's shape, and padding="same" resolved.
absl::StatusOr<internal::LayerSpec> ResolveSpec(const ChainLayer& layer,
                                                const ParamMap& params) {
  internal::LayerSpec spec = layer.spec;
  const at::Tensor& w = params.at(layer.weight_path);
  const bool conv = spec.kind == internal::LayerSpec::Kind::kConv2d;
  if (w.dim() != (conv ? 4 : 2) || (conv && w.size(2) != w.size(3))) {
    return Refuse(layer, absl::StrCat("weight ", layer.weight_path, " is ",
                                      ShapeString(w.sizes()), ", want ",
                                      conv ? "[out, in, k, k]" : "[out, in]"));
  }
  spec.out = w.size(0);
  spec.in = w.size(1) * (conv ? spec.groups : 1);
  if (!conv) return spec;
  spec.kernel = w.size(2);
  if (!layer.pad_same) return spec;
  // PyTorch puts the odd pixel of an even kernel's "same" padding on one
  // side only; Cohort's convolutions pad symmetrically.
  if (spec.kernel % 2 == 0) {
    return Refuse(layer, absl::StrCat("padding='same' with the even kernel ",
                                      spec.kernel,
                                      " pads unevenly, which Cohort's conv "
                                      "layers cannot express; use an odd "
                                      "kernel or explicit padding"));
  }
  spec.padding = (spec.kernel - 1) / 2;
  return spec;
}

// Devices rebuild the model from the chain's name alone, so it must pass
// ParseChainSpec's limits and shape checks here, not first on a device.
absl::StatusOr<std::vector<internal::LayerSpec>> ResolveChain(
    const std::vector<ChainLayer>& chain, const ParamMap& params) {
  std::vector<internal::LayerSpec> specs;
  for (const ChainLayer& layer : chain) {
    absl::StatusOr<internal::LayerSpec> spec = ResolveSpec(layer, params);
    if (!spec.ok()) return spec.status();
    specs.push_back(*std::move(spec));
  }
  const std::string text = internal::ChainSpecString(specs);
  absl::StatusOr<std::vector<internal::LayerSpec>> parsed =
      internal::ParseChainSpec(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("module's layers do not fit Cohort's layer chain: ",
                     parsed.status().message()));
  }
  if (internal::ChainSpecString(*parsed) != text) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module's layer chain does not survive its name: ", text));
  }
  return specs;
}

absl::Status CopyTensor(const ChainLayer& layer, const std::string& path,
                        const at::Tensor& from, at::Tensor& to) {
  if (from.sizes() != to.sizes()) {
    return Refuse(layer, absl::StrCat(path, " is ", ShapeString(from.sizes()),
                                      ", which does not fit its weight"));
  }
  to.copy_(from);
  return absl::OkStatus();
}

absl::Status CopyBatchNorm(const ChainLayer& layer, const ParamMap& params,
                           const ParamMap& buffers,
                           const internal::BatchNormTensors& to) {
  const std::string& p = layer.batch_norm_path;
  const std::vector<std::tuple<std::string, const ParamMap*, at::Tensor>>
      parts = {{p + ".weight", &params, to.weight},
               {p + ".bias", &params, to.bias},
               {p + ".running_mean", &buffers, to.running_mean},
               {p + ".running_var", &buffers, to.running_var}};
  for (auto [path, map, tensor] : parts) {
    const auto it = map->find(path);
    if (it == map->end()) return Refuse(layer, path + " is missing");
    if (absl::Status s = CopyTensor(layer, path, it->second, tensor); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CopyParameters(const std::vector<ChainLayer>& chain,
                            const ParamMap& params, const ParamMap& buffers,
                            Network& network) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < chain.size(); ++i) {
    network.weight(i).copy_(params.at(chain[i].weight_path));
    if (!chain[i].bias_path.empty()) {
      if (absl::Status s =
              CopyTensor(chain[i], chain[i].bias_path,
                         params.at(chain[i].bias_path), network.bias(i));
          !s.ok()) {
        return s;
      }
    }
    if (chain[i].batch_norm_path.empty()) continue;
    if (absl::Status s =
            CopyBatchNorm(chain[i], params, buffers, network.batch_norm(i));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Network>> BuildNetwork(
    const std::vector<ChainLayer>& chain, torch::jit::Module& module) {
  const ParamMap params = Parameters(module);
  if (absl::Status s = CheckTrainable(chain, params); !s.ok()) return s;
  absl::StatusOr<std::vector<internal::LayerSpec>> specs =
      ResolveChain(chain, params);
  if (!specs.ok()) return specs.status();
  auto network = std::make_shared<Network>(*std::move(specs));
  if (absl::Status s =
          CopyParameters(chain, params, Buffers(module), *network);
      !s.ok()) {
    return s;
  }
  return network;
}

absl::Status CheckHasTrainable(torch::jit::Module& module) {
  for (const at::Tensor& p : module.parameters()) {
    if (p.requires_grad() && p.numel() > 0) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "module has no trainable parameters; nothing to train or federate");
}

// The chain, in eval mode, must give the module's own output on the probe.
absl::Status CheckReproduces(Network& network, const at::Tensor& probe,
                             const at::Tensor& want) {
  network.eval();
  const at::Tensor got = network.Forward(probe);
  if (got.sizes() != want.sizes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module's forward could not be reproduced as a layer chain (it gives ",
        ShapeString(want.sizes()), ", the chain ", ShapeString(got.sizes()),
        ")"));
  }
  const double diff = (got - want).abs().max().item<double>();
  const double scale = 1.0 + want.abs().max().item<double>();
  if (!(diff <= 1e-4 * scale)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module's forward could not be reproduced as a layer chain (max "
        "difference ",
        diff, "); it may reshape or reorder in ways Cohort does not model"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Network>> ImportLoaded(
    torch::jit::Module& module);

// The file is untrusted: whatever LibTorch throws while reading the loaded
// module is a fault of the file too, so INVALID_ARGUMENT, never INTERNAL.
absl::StatusOr<std::shared_ptr<Network>> Import(const std::string& path) {
  absl::StatusOr<torch::jit::Module> module =
      internal::LoadUntrustedModule(path);
  if (!module.ok()) return module.status();
  try {
    return ImportLoaded(*module);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat("module in ", path, " cannot be imported: ",
                     internal::CurrentExceptionReason()));
  }
}

absl::StatusOr<std::shared_ptr<Network>> ImportLoaded(
    torch::jit::Module& module) {
  module.eval();
  if (absl::Status s = CheckHasTrainable(module); !s.ok()) return s;
  torch::NoGradGuard no_grad;
  const at::Tensor probe = torch::randn(
      {kProbeBatch, 1, internal::kImageSide, internal::kImageSide},
      torch::TensorOptions().dtype(torch::kFloat));
  // The graph is read before the module runs: a module that writes state
  // is refused without running, and the parameters copied below are the
  // ones the probe ran with.
  absl::StatusOr<std::vector<ChainLayer>> chain = internal::ReadChain(module);
  if (!chain.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module cannot be trained and exported to int8 by Cohort: ",
        chain.status().message()));
  }
  absl::StatusOr<at::Tensor> want = Probe(module, probe);
  if (!want.ok()) return want.status();
  absl::StatusOr<std::shared_ptr<Network>> network =
      BuildNetwork(*chain, module);
  if (!network.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "module cannot be trained and exported to int8 by Cohort: ",
        network.status().message()));
  }
  if (absl::Status s = CheckReproduces(**network, probe, *want); !s.ok()) {
    return s;
  }
  return network;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::ImportTorchScript(
    const std::string& path) {
  if (absl::Status s = CheckFile(path); !s.ok()) return s;
  std::unique_ptr<Model> model;
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    absl::StatusOr<std::shared_ptr<Network>> network = Import(path);
    if (!network.ok()) return network.status();
    auto impl = std::make_unique<Impl>();
    // The chain itself is the architecture name, so devices can rebuild the
    // model from a ModelRef without the module file.
    impl->architecture = internal::ChainSpecString((*network)->specs());
    impl->network = *std::move(network);
    model.reset(new Model(std::move(impl)));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return model;
}

}  // namespace cohort::ml
