#include "common/ml/zoo.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/random.h"
#include "common/ml/model.h"
#include "glog/logging.h"

namespace cohort::ml {
namespace internal {
namespace {

constexpr char kMlp[] = "mlp";
constexpr char kSmallCnn[] = "small_cnn";

class Mlp : public Network {
 public:
  Mlp()
      : fc1_(register_module("fc1",
                             torch::nn::Linear(kImageSide * kImageSide, 96))),
        fc2_(register_module("fc2", torch::nn::Linear(96, kNumClasses))) {}

  torch::Tensor Forward(const torch::Tensor& input) override {
    return fc2_(torch::relu(fc1_(input.flatten(1))));
  }

 private:
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};

// 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4, so 32 * 4 * 4 = 512
// features reach the first linear layer.
class SmallCnn : public Network {
 public:
  SmallCnn()
      : conv1_(register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 5)))),
        conv2_(register_module(
            "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 5)))),
        fc1_(register_module("fc1", torch::nn::Linear(512, 64))),
        fc2_(register_module("fc2", torch::nn::Linear(64, kNumClasses))) {}

  torch::Tensor Forward(const torch::Tensor& input) override {
    torch::Tensor x = torch::max_pool2d(torch::relu(conv1_(input)), 2);
    x = torch::max_pool2d(torch::relu(conv2_(x)), 2);
    return fc2_(torch::relu(fc1_(x.flatten(1))));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::Conv2d conv2_;
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};

void FillUniform(torch::Tensor& tensor, double bound, base::Random& random) {
  CHECK(tensor.is_contiguous() && tensor.scalar_type() == torch::kFloat);
  float* values = tensor.data_ptr<float>();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    values[i] =
        static_cast<float>((2.0 * random.UniformDouble() - 1.0) * bound);
  }
}

// Every zoo layer is a direct child with "weight" and optional "bias", so
// one pass over the children in registration order covers all parameters.
void InitFromSeed(Network& network, uint64_t seed) {
  base::Random random(seed);
  torch::NoGradGuard no_grad;
  size_t initialised = 0;
  for (const auto& child : network.children()) {
    auto params = child->named_parameters(/*recurse=*/false);
    torch::Tensor* weight = params.find("weight");
    if (weight == nullptr) continue;
    const int64_t fan_in = weight->numel() / weight->size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    FillUniform(*weight, bound, random);
    ++initialised;
    if (torch::Tensor* bias = params.find("bias"); bias != nullptr) {
      FillUniform(*bias, bound, random);
      ++initialised;
    }
  }
  CHECK_EQ(initialised, network.parameters().size())
      << "zoo network has a parameter outside a weight/bias child";
}

}  // namespace

absl::StatusOr<std::shared_ptr<Network>> BuildNetwork(
    const std::string& architecture, uint64_t seed) {
  std::shared_ptr<Network> network;
  if (architecture == kMlp) {
    network = std::make_shared<Mlp>();
  } else if (architecture == kSmallCnn) {
    network = std::make_shared<SmallCnn>();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown architecture \"", architecture,
                     "\"; known: ", absl::StrJoin(ZooArchitectures(), ", ")));
  }
  InitFromSeed(*network, seed);
  return network;
}

}  // namespace internal

std::vector<std::string> ZooArchitectures() {
  return {internal::kMlp, internal::kSmallCnn};
}

}  // namespace cohort::ml
