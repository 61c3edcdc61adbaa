#include "common/ml/zoo.h"

#include <torch/torch.h>

#include <cmath>
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

LayerSpec Conv(const char* name, int64_t in, int64_t out) {
  LayerSpec s;
  s.kind = LayerSpec::Kind::kConv2d;
  s.name = name;
  s.in = in;
  s.out = out;
  s.kernel = 5;
  s.relu = true;
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
  s.relu = relu;
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
  return {internal::kMlp, internal::kSmallCnn, internal::kTinyCnn};
}

}  // namespace cohort::ml
