#include "common/ml/zoo.h"

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/random.h"
#include "common/ml/chain_spec.h"
#include "common/ml/model.h"
#include "glog/logging.h"

namespace cohort::ml {
namespace internal {
namespace {

constexpr char kMlp[] = "mlp";
constexpr char kSmallCnn[] = "small_cnn";
constexpr char kTinyCnn[] = "tiny_cnn";
constexpr char kMobileNetV2[] = "mobilenet_v2";

LayerSpec Conv(const char* name, int64_t in, int64_t out) {
  LayerSpec s;
  s.kind = LayerSpec::Kind::kConv2d;
  s.name = name;
  s.in = in;
  s.out = out;
  s.kernel = 5;
  s.activation = LayerSpec::Activation::kRelu;
  s.pool = 2;
  s.pool_stride = 2;
  return s;
}

LayerSpec Linear(const char* name, int64_t in, int64_t out, bool relu,
                 bool flatten_before) {
  LayerSpec s;
  s.name = name;
  s.in = in;
  s.out = out;
  s.activation = relu ? LayerSpec::Activation::kRelu : LayerSpec::Activation::kNone;
  s.flatten_before = flatten_before;
  return s;
}

// 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4, so a CNN with c2 channels
// in its second conv feeds c2 * 16 features to its first linear layer.
std::vector<LayerSpec> Cnn(int64_t c1, int64_t c2, int64_t hidden) {
  return {Conv("conv1", 1, c1), Conv("conv2", c1, c2),
          Linear("fc1", c2 * 16, hidden, /*relu=*/true, /*flatten=*/true),
          Linear("fc2", hidden, kNumClasses, false, false)};
}

// A conv with batch norm and no bias (batch norm's shift is the bias),
// padded to keep the size at stride 1.
LayerSpec ConvBn(std::string name, int64_t in, int64_t out, int64_t kernel,
                 int64_t stride, int64_t groups,
                 LayerSpec::Activation activation) {
  LayerSpec s;
  s.kind = LayerSpec::Kind::kConv2d;
  s.name = std::move(name);
  s.in = in;
  s.out = out;
  s.kernel = kernel;
  s.stride = stride;
  s.padding = kernel / 2;
  s.groups = groups;
  s.bias = false;
  s.batch_norm = true;
  s.activation = activation;
  return s;
}

// MobileNetV2's inverted residual block (Sandler et al. 2018): a 1x1
// expansion by `expand` (none at 1), a 3x3 depthwise conv, both ReLU6, and
// a linear 1x1 projection, with the block's input added back when the
// stride is 1 and the widths match.
void InvertedResidual(std::vector<LayerSpec>& specs, const std::string& name,
                      int64_t in, int64_t out, int64_t expand,
                      int64_t stride) {
  constexpr auto kRelu6 = LayerSpec::Activation::kRelu6;
  const auto first = static_cast<int64_t>(specs.size());
  const int64_t hidden = in * expand;
  if (expand != 1) {
    specs.push_back(ConvBn(name + "_expand", in, hidden, 1, 1, 1, kRelu6));
  }
  specs.push_back(ConvBn(name + "_dw", hidden, hidden, 3, stride, hidden,
                         kRelu6));
  LayerSpec project = ConvBn(name + "_project", hidden, out, 1, 1, 1,
                             LayerSpec::Activation::kNone);
  if (stride == 1 && in == out) project.residual = first;
  specs.push_back(project);
}

// MobileNetV2 sized for 28x28: the paper's first widths (32, 16, 24, 32)
// and expansion 6, a stride-2 stem (14x14), five inverted residual blocks
// (two more halvings, to 4x4; two with residuals), a 1x1 head of 256 with
// global average pooling and dropout 0.2, and the classifier.
std::vector<LayerSpec> MobileNetV2() {
  constexpr auto kRelu6 = LayerSpec::Activation::kRelu6;
  std::vector<LayerSpec> specs = {ConvBn("stem", 1, 32, 3, 2, 1, kRelu6)};
  InvertedResidual(specs, "b1", 32, 16, 1, 1);
  InvertedResidual(specs, "b2", 16, 24, 6, 2);  // 7x7
  InvertedResidual(specs, "b3", 24, 24, 6, 1);
  InvertedResidual(specs, "b4", 24, 32, 6, 2);  // 4x4
  InvertedResidual(specs, "b5", 32, 32, 6, 1);
  LayerSpec head = ConvBn("head", 32, 256, 1, 1, 1, kRelu6);
  head.pool_kind = LayerSpec::Pool::kGlobalAvg;
  head.dropout = 0.2;
  specs.push_back(head);
  specs.push_back(Linear("fc", 256, kNumClasses, false, true));
  return specs;
}

void FillUniform(torch::Tensor& tensor, double bound, base::Random& random) {
  CHECK(tensor.is_contiguous() && tensor.scalar_type() == torch::kFloat);
  float* values = tensor.data_ptr<float>();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    values[i] =
        static_cast<float>((2.0 * random.UniformDouble() - 1.0) * bound);
  }
}

// Layer by layer in chain order, weight before bias.
void InitFromSeed(Network& network, uint64_t seed) {
  base::Random random(seed);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < network.specs().size(); ++i) {
    torch::Tensor& weight = network.weight(i);
    const int64_t fan_in = weight.numel() / weight.size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    FillUniform(weight, bound, random);
    if (network.bias(i).defined()) FillUniform(network.bias(i), bound, random);
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<Network>> BuildNetwork(
    const std::string& architecture, uint64_t seed) {
  std::vector<LayerSpec> specs;
  if (architecture == kMlp) {
    specs = {Linear("fc1", kImageSide * kImageSide, 96, true, true),
             Linear("fc2", 96, kNumClasses, false, false)};
  } else if (architecture == kSmallCnn) {
    specs = Cnn(16, 32, 64);
  } else if (architecture == kTinyCnn) {
    specs = Cnn(6, 12, 32);
  } else if (architecture == kMobileNetV2) {
    specs = MobileNetV2();
  } else if (IsChainSpec(architecture)) {
    // An imported model's chain, as the coordinator published it.
    auto parsed = ParseChainSpec(architecture);
    if (!parsed.ok()) return parsed.status();
    specs = *std::move(parsed);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown architecture \"", architecture,
                     "\"; known: ", absl::StrJoin(ZooArchitectures(), ", ")));
  }
  auto network = std::make_shared<Network>(std::move(specs));
  InitFromSeed(*network, seed);
  return network;
}

}  // namespace internal

std::vector<std::string> ZooArchitectures() {
  return {internal::kMlp, internal::kSmallCnn, internal::kTinyCnn,
          internal::kMobileNetV2};
}

}  // namespace cohort::ml
