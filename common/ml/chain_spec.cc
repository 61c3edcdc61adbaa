#include "common/ml/chain_spec.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cohort::ml::internal {
namespace {

constexpr int kMaxLayers = 64;
constexpr int64_t kMaxWidth = 65536;
constexpr int64_t kMaxParameters = 50'000'000;

absl::Status Bad(int layer, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("architecture chain, layer ", layer, ": ", why));
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Reads "<letter><int>" (e.g. "k5") into *value.
bool Field(absl::string_view token, char letter, int64_t lo, int64_t hi,
           int64_t* value) {
  if (token.size() < 2 || token[0] != letter) return false;
  return absl::SimpleAtoi(token.substr(1), value) && *value >= lo && *value <= hi;
}

}  // namespace

bool IsChainSpec(absl::string_view architecture) {
  return absl::StartsWith(architecture, kChainPrefix);
}

std::string ChainSpecString(const std::vector<LayerSpec>& specs) {
  std::vector<std::string> layers;
  for (const LayerSpec& s : specs) {
    if (s.kind == LayerSpec::Kind::kConv2d) {
      layers.push_back(absl::StrCat("conv2d/", s.name, "/", s.in, "/", s.out,
                                    "/k", s.kernel, "/s", s.stride, "/p",
                                    s.padding, "/b", s.bias ? 1 : 0, "/r",
                                    s.relu ? 1 : 0, "/m", s.pool, "x",
                                    s.pool > 0 ? s.pool_stride : 0));
    } else {
      layers.push_back(absl::StrCat("linear/", s.name, "/", s.in, "/", s.out,
                                    "/f", s.flatten_before ? 1 : 0, "/b",
                                    s.bias ? 1 : 0, "/r", s.relu ? 1 : 0));
    }
  }
  return absl::StrCat(kChainPrefix, absl::StrJoin(layers, ";"));
}

absl::StatusOr<std::vector<LayerSpec>> ParseChainSpec(absl::string_view text) {
  if (!IsChainSpec(text) || text.size() > 16384) {
    return absl::InvalidArgumentError("not an architecture chain");
  }
  std::vector<absl::string_view> layers =
      absl::StrSplit(text.substr(kChainPrefix.size()), ';');
  if (layers.empty() || static_cast<int>(layers.size()) > kMaxLayers) {
    return absl::InvalidArgumentError("architecture chain needs 1 to 64 layers");
  }
  std::vector<LayerSpec> specs;
  // The activation shape as it flows: [c, h, w] until flattened, then [f].
  int64_t c = 1, h = kImageSide, w = kImageSide, features = 0;
  bool flat = false;
  int64_t parameters = 0;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(layers[i], '/');
    LayerSpec s;
    if (f.size() < 4 || !ValidName(f[1])) return Bad(i, "malformed layer");
    s.name = std::string(f[1]);
    if (!absl::SimpleAtoi(f[2], &s.in) || !absl::SimpleAtoi(f[3], &s.out) ||
        s.in < 1 || s.out < 1 || s.in > kMaxWidth * 64 || s.out > kMaxWidth) {
      return Bad(i, "width out of range");
    }
    int64_t bias = 0, relu = 0;
    if (f[0] == "conv2d") {
      s.kind = LayerSpec::Kind::kConv2d;
      int64_t pool_stride = 0;
      std::vector<absl::string_view> m;
      if (f.size() != 10 || !Field(f[4], 'k', 1, 15, &s.kernel) ||
          !Field(f[5], 's', 1, 8, &s.stride) ||
          !Field(f[6], 'p', 0, 8, &s.padding) || !Field(f[7], 'b', 0, 1, &bias) ||
          !Field(f[8], 'r', 0, 1, &relu) || f[9].size() < 2 || f[9][0] != 'm') {
        return Bad(i, "malformed conv2d");
      }
      m = absl::StrSplit(f[9].substr(1), 'x');
      if (m.size() != 2 || !absl::SimpleAtoi(m[0], &s.pool) ||
          !absl::SimpleAtoi(m[1], &pool_stride) || s.pool < 0 || s.pool > 8 ||
          pool_stride < 0 || pool_stride > 8 || (s.pool > 0 && pool_stride < 1)) {
        return Bad(i, "malformed pooling");
      }
      s.pool_stride = pool_stride;
      if (flat || s.in != c) return Bad(i, "input channels do not chain");
      h = (h + 2 * s.padding - s.kernel) / s.stride + 1;
      w = (w + 2 * s.padding - s.kernel) / s.stride + 1;
      if (h < 1 || w < 1) return Bad(i, "kernel larger than its input");
      if (s.pool > 0) {
        h = (h - s.pool) / s.pool_stride + 1;
        w = (w - s.pool) / s.pool_stride + 1;
        if (h < 1 || w < 1) return Bad(i, "pooling larger than its input");
      }
      c = s.out;
      parameters += s.in * s.out * s.kernel * s.kernel;
    } else if (f[0] == "linear") {
      int64_t flatten = 0;
      if (f.size() != 7 || !Field(f[4], 'f', 0, 1, &flatten) ||
          !Field(f[5], 'b', 0, 1, &bias) || !Field(f[6], 'r', 0, 1, &relu)) {
        return Bad(i, "malformed linear");
      }
      s.flatten_before = flatten == 1;
      if (s.flatten_before && !flat) {
        features = c * h * w;
        flat = true;
      }
      if (!flat || s.in != features) return Bad(i, "input features do not chain");
      features = s.out;
      parameters += s.in * s.out;
    } else {
      return Bad(i, "unknown layer kind");
    }
    s.bias = bias == 1;
    s.relu = relu == 1;
    parameters += s.bias ? s.out : 0;
    if (parameters > kMaxParameters) return Bad(i, "too many parameters");
    specs.push_back(std::move(s));
  }
  if (!flat || features != kNumClasses) {
    return absl::InvalidArgumentError(
        "architecture chain must end in 10 output features");
  }
  return specs;
}

}  // namespace cohort::ml::internal
