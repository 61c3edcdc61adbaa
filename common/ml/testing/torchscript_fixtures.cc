#include "common/ml/testing/torchscript_fixtures.h"

#include <torch/script.h>
#include <torch/torch.h>

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
  const std::string linear = R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)";
  Module classifier = Container("Classifier");
  classifier.register_module("fc1", Leaf("Fc1", {16, 4 * 14 * 14}, linear));
  classifier.register_module("fc2", Leaf("Fc2", {10, 16}, linear));
  classifier.define(R"(
def forward(self, x):
    x = torch.relu(self.fc1.forward(x))
    x = torch.dropout(x, 0.1, False)
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

}  // namespace

absl::Status WriteTorchScriptFixture(Fixture fixture, const std::string& path) {
  try {
    torch::manual_seed(7);
    Module module;
    switch (fixture) {
      case Fixture::kChainCnn:
        module = ChainCnn();
        break;
      case Fixture::kNoParameters:
        module = NoParameters();
        break;
      case Fixture::kWrongInput:
        module = WrongInput();
        break;
      case Fixture::kUnsupportedOp:
        module = UnsupportedOp();
        break;
      case Fixture::kResidual:
        module = Residual();
        break;
    }
    module.save(path);
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what()));
  }
}

}  // namespace cohort::ml::testing
