#include "common/ml/testing/torchscript_fixtures.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cohort::ml::testing {
namespace {

using torch::jit::Module;

at::Tensor Param(std::vector<int64_t> shape, double bound) {
  return (torch::rand(shape) * 2 - 1).mul_(bound).set_requires_grad(true);
}

// A leaf module holding weight and bias, with `source` as its forward.
Module Leaf(const std::string& type, std::vector<int64_t> weight_shape,
            const std::string& source) {
  Module m(absl::StrCat("__torch__.cohort_fixture.", type));
  int64_t fan_in = 1;
  for (size_t i = 1; i < weight_shape.size(); ++i) fan_in *= weight_shape[i];
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  m.register_parameter("weight", Param(weight_shape, bound), false);
  m.register_parameter("bias", Param({weight_shape[0]}, bound), false);
  m.define(source);
  return m;
}

Module Container(const std::string& type) {
  return Module(absl::StrCat("__torch__.cohort_fixture.", type));
}

constexpr char kLinearForward[] = R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)";

// As scripting nn.Dropout(p) compiles it: p is a constant and the
// training flag is the module's own `training` attribute.
Module Dropout(const std::string& type, double p) {
  Module m = Container(type);
  m.register_attribute("training", c10::BoolType::get(), true);
  m.define(absl::StrCat(R"(
def forward(self, x):
    return torch.dropout(x, )",
                        p, R"(, self.training)
)"));
  return m;
}

Module ChainCnn() {
  Module features = Container("Features");
  features.register_module(
      "conv", Leaf("Conv", {4, 1, 3, 3}, R"(
def forward(self, x):
    return torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1])
)"));
  features.define(R"(
def forward(self, x):
    return torch.max_pool2d(torch.relu(self.conv.forward(x)), [2, 2], [2, 2])
)");
  Module classifier = Container("Classifier");
  classifier.register_module("fc1",
                             Leaf("Fc1", {16, 4 * 14 * 14}, kLinearForward));
  classifier.register_module("drop", Dropout("Dropout", 0.1));
  classifier.register_module("fc2", Leaf("Fc2", {10, 16}, kLinearForward));
  classifier.define(R"(
def forward(self, x):
    x = torch.relu(self.fc1.forward(x))
    x = self.drop.forward(x)
    return self.fc2.forward(x)
)");
  Module net = Container("ChainCnn");
  net.register_module("features", features);
  net.register_module("classifier", classifier);
  net.define(R"(
def forward(self, x):
    return self.classifier.forward(torch.flatten(self.features.forward(x), 1))
)");
  return net;
}

Module NoParameters() {
  Module net = Container("NoParameters");
  net.define(R"(
def forward(self, x):
    return torch.zeros([x.size(0), 10])
)");
  return net;
}

Module WrongInput() {
  Module net = Container("WrongInput");
  net.register_module("conv", Leaf("RgbConv", {10, 3, 28, 28}, R"(
def forward(self, x):
    return torch.conv2d(x, self.weight, self.bias)
)"));
  net.define(R"(
def forward(self, x):
    return torch.flatten(self.conv.forward(x), 1)
)");
  return net;
}

Module UnsupportedOp() {
  Module net = Container("UnsupportedOp");
  net.register_module("fc", Leaf("SigmoidFc", {10, 784}, R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)"));
  net.define(R"(
def forward(self, x):
    return self.fc.forward(torch.sigmoid(torch.flatten(x, 1)))
)");
  return net;
}

Module Residual() {
  const std::string linear = R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)";
  Module net = Container("Residual");
  net.register_module("a", Leaf("BranchA", {10, 784}, linear));
  net.register_module("b", Leaf("BranchB", {10, 784}, linear));
  net.define(R"(
def forward(self, x):
    x = torch.flatten(x, 1)
    return self.a.forward(x) + self.b.forward(x)
)");
  return net;
}

// Calls its children "0", "1", ... in turn, as a scripted nn.Sequential
// does; saved TorchScript spells those calls getattr(self, "0").
Module Sequential(const std::string& type, const std::vector<Module>& layers) {
  Module m = Container(type);
  std::string source = "\ndef forward(self, x):\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    m.register_module(std::to_string(i), layers[i]);
    absl::StrAppend(&source, "    x = getattr(self, \"", i, "\").forward(x)\n");
  }
  absl::StrAppend(&source, "    return x\n");
  m.define(source);
  return m;
}

Module Stateless(const std::string& type, const std::string& expression) {
  Module m = Container(type);
  m.define(absl::StrCat("\ndef forward(self, x):\n    return ", expression,
                        "\n"));
  return m;
}

// Conv2d(1, 4, kernel) at stride 1 with `padding` as scripted source:
// "[1, 1]", or "\"same\"" for conv2d's string-padding overload.
Module Conv2d(int64_t kernel, const std::string& padding) {
  const std::string source = absl::StrCat(
      "\ndef forward(self, x):\n"
      "    return torch.conv2d(x, self.weight, self.bias, [1, 1], ",
      padding, ", [1, 1], 1)\n");
  return Leaf("Conv2d", {4, 1, kernel, kernel}, source);
}

// Flattens `features` (4 x side x side activations) into Linear(-> 10).
Module WithClassifier(const std::string& type, const Module& features,
                      int64_t side) {
  Module net = Container(type);
  net.register_module("features", features);
  net.register_module("fc", Leaf("Linear", {10, 4 * side * side},
                                 kLinearForward));
  net.define(R"(
def forward(self, x):
    return self.fc.forward(torch.flatten(self.features.forward(x), 1))
)");
  return net;
}

// nn.BatchNorm2d(4) as scripting compiles it: an input-rank check, then
// batch_norm on running statistics that training would update.
Module BatchNorm2d() {
  Module m = Container("BatchNorm2d");
  m.register_parameter("weight", torch::ones({4}).set_requires_grad(true),
                       false);
  m.register_parameter("bias", torch::zeros({4}).set_requires_grad(true),
                       false);
  m.register_buffer("running_mean", torch::zeros({4}));
  m.register_buffer("running_var", torch::ones({4}));
  m.register_attribute("training", c10::BoolType::get(), true);
  m.define(R"(
def forward(self, x):
    assert x.dim() == 4
    return torch.batch_norm(x, self.weight, self.bias, self.running_mean,
                            self.running_var, self.training, 0.1, 1e-05, False)
)");
  return m;
}

constexpr char kMaxPool[] = "torch.max_pool2d(x, [2, 2], [2, 2])";

Module BatchNormNet() {
  return WithClassifier(
      "BatchNormNet",
      Sequential("Sequential",
                 {Conv2d(3, "[1, 1]"), Stateless("ReLU", "torch.relu(x)"),
                  Stateless("MaxPool2d", kMaxPool), BatchNorm2d()}),
      14);
}

Module SamePadding(int64_t kernel) {
  return WithClassifier("SamePaddingNet",
                        Sequential("Sequential", {Conv2d(kernel, "\"same\"")}),
                        28);
}

Module DropoutBeforePool() {
  return WithClassifier(
      "DropoutBeforePoolNet",
      Sequential("Sequential", {Conv2d(3, "[1, 1]"), Dropout("Dropout", 0.25),
                                Stateless("MaxPool2d", kMaxPool)}),
      14);
}

// The classifier's weight is frozen, as for fine-tuning only some layers.
Module FrozenLayer() {
  Module net = WithClassifier(
      "FrozenLayerNet", Sequential("Sequential", {Conv2d(3, "[1, 1]")}), 28);
  for (const auto& p : net.named_parameters(/*recurse=*/true)) {
    at::Tensor tensor = p.value;
    if (p.name == "fc.weight") tensor.set_requires_grad(false);
  }
  return net;
}

Module Build(Fixture fixture) {
  switch (fixture) {
    case Fixture::kChainCnn:
      return ChainCnn();
    case Fixture::kNoParameters:
      return NoParameters();
    case Fixture::kWrongInput:
      return WrongInput();
    case Fixture::kUnsupportedOp:
      return UnsupportedOp();
    case Fixture::kResidual:
      return Residual();
    case Fixture::kBatchNorm:
      return BatchNormNet();
    case Fixture::kSamePadding:
      return SamePadding(3);
    case Fixture::kSamePaddingEvenKernel:
      return SamePadding(4);
    case Fixture::kDropoutBeforePool:
      return DropoutBeforePool();
    case Fixture::kFrozenLayer:
      return FrozenLayer();
  }
  return NoParameters();  // unreachable: every Fixture is handled above
}

}  // namespace

absl::Status WriteTorchScriptFixture(Fixture fixture, const std::string& path) {
  try {
    torch::manual_seed(7);
    Build(fixture).save(path);
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what()));
  }
}

}  // namespace cohort::ml::testing
