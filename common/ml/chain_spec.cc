#include "common/ml/chain_spec.h"

#include <charconv>
#include <set>
#include <string>
#include <vector>

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

using Fields = std::vector<absl::string_view>;

// The activation shape as it flows: [c, h, w] until flattened, then
// [features]; and the parameters counted so far.
struct Flow {
  int64_t c = 1, h = kImageSide, w = kImageSide, features = 0;
  bool flat = false;
  int64_t parameters = 0;
  // The shape each layer so far took as its input (for residuals).
  std::vector<Flow> inputs;
};

// `flow`'s shape alone.
Flow Shape(const Flow& flow) {
  Flow shape;
  shape.c = flow.c;
  shape.h = flow.h;
  shape.w = flow.w;
  shape.features = flow.features;
  shape.flat = flow.flat;
  return shape;
}

absl::Status Bad(int layer, absl::string_view name, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "architecture chain, layer ", layer,
      name.empty() ? "" : absl::StrCat(" (", name, ")"), ": ", why));
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// Reads "<letter><int>" (e.g. "k5") into *value.
bool Field(absl::string_view token, char letter, int64_t lo, int64_t hi,
           int64_t* value) {
  if (token.size() < 2 || token[0] != letter) return false;
  return absl::SimpleAtoi(token.substr(1), value) && *value >= lo &&
         *value <= hi;
}

// The shortest decimal that reads back as exactly `p`, so the probability
// survives the trip through the architecture name bit for bit.
std::string ProbabilityText(double p) {
  char buffer[64];
  const std::to_chars_result end =
      std::to_chars(buffer, buffer + sizeof(buffer), p);
  return std::string(buffer, end.ptr);
}

// "/d<p>" for a layer with dropout; nothing otherwise, so chains without
// dropout keep the names they had before dropout was carried.
std::string DropoutField(const LayerSpec& s) {
  return s.dropout > 0.0 ? absl::StrCat("/d", ProbabilityText(s.dropout)) : "";
}

// The optional trailing dropout field f[at]: "d<p>" with 0 < p < 1.
bool ParseDropout(const Fields& f, size_t at, LayerSpec& s) {
  if (f.size() == at) return true;
  if (f.size() != at + 1 || f[at].size() < 2 || f[at][0] != 'd') return false;
  double p = 0.0;
  if (!absl::SimpleAtod(f[at].substr(1), &p) || !(p > 0.0 && p < 1.0)) {
    return false;
  }
  s.dropout = p;
  return true;
}

// "m<k>x<s>" max-pooling (m0x0 for none), "v<k>x<s>" average pooling,
// "vg" global average pooling.
bool ParsePooling(absl::string_view token, LayerSpec& s) {
  if (token == "vg") {
    s.pool_kind = LayerSpec::Pool::kGlobalAvg;
    return true;
  }
  if (token.size() < 2 || (token[0] != 'm' && token[0] != 'v')) return false;
  s.pool_kind = token[0] == 'm' ? LayerSpec::Pool::kMax : LayerSpec::Pool::kAvg;
  const Fields m = absl::StrSplit(token.substr(1), 'x');
  int64_t pool_stride = 0;
  if (m.size() != 2 || !absl::SimpleAtoi(m[0], &s.pool) ||
      !absl::SimpleAtoi(m[1], &pool_stride) || s.pool < 0 || s.pool > 8 ||
      pool_stride < 0 || pool_stride > 8 || (s.pool > 0 && pool_stride < 1) ||
      (s.pool == 0 && (pool_stride != 0 || token[0] != 'm'))) {
    return false;
  }
  s.pool_stride = pool_stride;
  return true;
}

std::string PoolingField(const LayerSpec& s) {
  switch (s.pool_kind) {
    case LayerSpec::Pool::kGlobalAvg:
      return "/vg";
    case LayerSpec::Pool::kAvg:
      return absl::StrCat("/v", s.pool, "x", s.pool_stride);
    case LayerSpec::Pool::kMax:
      break;
  }
  return absl::StrCat("/m", s.pool, "x", s.pool > 0 ? s.pool_stride : 0);
}

bool ParseActivation(absl::string_view token, LayerSpec& s) {
  int64_t code = 0;
  if (!Field(token, 'r', 0, 3, &code)) return false;
  s.activation = static_cast<LayerSpec::Activation>(code);
  return true;
}

// The optional fields of a conv layer, each at most once and in this order:
// "g<groups>", "n1" (batch norm), "+<layer>" (residual); then dropout.
absl::Status ParseConvOptions(int i, const Fields& f, LayerSpec& s) {
  size_t at = 10;
  int64_t value = 0;
  if (at < f.size() && Field(f[at], 'g', 2, kMaxWidth, &value)) {
    s.groups = value;
    ++at;
  }
  if (at < f.size() && f[at] == "n1") {
    s.batch_norm = true;
    ++at;
  }
  if (at < f.size() && Field(f[at], '+', 0, i, &value)) {
    s.residual = value;
    ++at;
  }
  if (!ParseDropout(f, at, s)) return Bad(i, s.name, "malformed option");
  return absl::OkStatus();
}

std::string ConvOptionFields(const LayerSpec& s) {
  std::string out;
  if (s.groups > 1) absl::StrAppend(&out, "/g", s.groups);
  if (s.batch_norm) out += "/n1";
  if (s.residual >= 0) absl::StrAppend(&out, "/+", s.residual);
  return out + DropoutField(s);
}

// conv2d/<name>/<in>/<out>/k/s/p/b/r/<pooling>[/g][/n1][/+][/d]
absl::Status ParseConv(int i, const Fields& f, LayerSpec& s) {
  s.kind = LayerSpec::Kind::kConv2d;
  int64_t bias = 0;
  if (f.size() < 10 || !Field(f[4], 'k', 1, 15, &s.kernel) ||
      !Field(f[5], 's', 1, 8, &s.stride) ||
      !Field(f[6], 'p', 0, 8, &s.padding) || !Field(f[7], 'b', 0, 1, &bias) ||
      !ParseActivation(f[8], s)) {
    return Bad(i, s.name, "malformed conv2d");
  }
  if (!ParsePooling(f[9], s)) return Bad(i, s.name, "malformed pooling");
  if (absl::Status st = ParseConvOptions(i, f, s); !st.ok()) return st;
  s.bias = bias == 1;
  if (s.in % s.groups != 0 || s.out % s.groups != 0) {
    return Bad(i, s.name, "channels are not a multiple of groups");
  }
  if (s.residual >= 0 && s.activation != LayerSpec::Activation::kNone &&
      s.activation != LayerSpec::Activation::kRelu) {
    return Bad(i, s.name, "a residual layer's activation must be none or relu");
  }
  return absl::OkStatus();
}

// linear/<name>/<in>/<out>/f/b/r[/d]
absl::Status ParseLinear(int i, const Fields& f, LayerSpec& s) {
  int64_t flatten = 0, bias = 0;
  if (f.size() < 7 || !Field(f[4], 'f', 0, 1, &flatten) ||
      !Field(f[5], 'b', 0, 1, &bias) || !ParseActivation(f[6], s)) {
    return Bad(i, s.name, "malformed linear");
  }
  if (!ParseDropout(f, 7, s)) return Bad(i, s.name, "malformed dropout");
  s.flatten_before = flatten == 1;
  s.bias = bias == 1;
  return absl::OkStatus();
}

absl::Status FlowResidual(int i, const LayerSpec& s, const Flow& flow) {
  if (s.residual < 0) return absl::OkStatus();
  const Flow& from = flow.inputs[static_cast<size_t>(s.residual)];
  if (from.flat || from.c != flow.c || from.h != flow.h || from.w != flow.w) {
    return Bad(i, s.name,
               absl::StrCat("residual from layer ", s.residual,
                            "'s input does not match this layer's shape"));
  }
  return absl::OkStatus();
}

absl::Status FlowConv(int i, const LayerSpec& s, Flow& flow) {
  if (flow.flat || s.in != flow.c) {
    return Bad(i, s.name, "input channels do not chain");
  }
  flow.h = (flow.h + 2 * s.padding - s.kernel) / s.stride + 1;
  flow.w = (flow.w + 2 * s.padding - s.kernel) / s.stride + 1;
  if (flow.h < 1 || flow.w < 1) {
    return Bad(i, s.name, "kernel larger than its input");
  }
  flow.c = s.out;
  if (absl::Status st = FlowResidual(i, s, flow); !st.ok()) return st;
  if (s.pool_kind == LayerSpec::Pool::kGlobalAvg) {
    flow.h = flow.w = 1;
  } else if (s.pool > 0) {
    flow.h = (flow.h - s.pool) / s.pool_stride + 1;
    flow.w = (flow.w - s.pool) / s.pool_stride + 1;
    if (flow.h < 1 || flow.w < 1) {
      return Bad(i, s.name, "pooling larger than its input");
    }
  }
  flow.parameters += s.in / s.groups * s.out * s.kernel * s.kernel;
  // Batch norm's scale and shift, and its two running statistics.
  flow.parameters += s.batch_norm ? 4 * s.out : 0;
  return absl::OkStatus();
}

absl::Status FlowLinear(int i, const LayerSpec& s, Flow& flow) {
  if (s.flatten_before && !flow.flat) {
    flow.features = flow.c * flow.h * flow.w;
    flow.flat = true;
  }
  if (!flow.flat || s.in != flow.features) {
    return Bad(i, s.name, "input features do not chain");
  }
  flow.features = s.out;
  flow.parameters += s.in * s.out;
  return absl::OkStatus();
}

absl::StatusOr<LayerSpec> ParseLayer(int i, absl::string_view text,
                                     Flow& flow) {
  const Fields f = absl::StrSplit(text, '/');
  LayerSpec s;
  if (f.size() < 4 || !ValidName(f[1])) return Bad(i, "", "malformed layer");
  s.name = std::string(f[1]);
  if (!absl::SimpleAtoi(f[2], &s.in) || !absl::SimpleAtoi(f[3], &s.out) ||
      s.in < 1 || s.out < 1 || s.in > kMaxWidth * 64 || s.out > kMaxWidth) {
    return Bad(i, s.name, "width out of range");
  }
  flow.inputs.push_back(Shape(flow));
  absl::Status status;
  if (f[0] == "conv2d") {
    status = ParseConv(i, f, s);
    if (status.ok()) status = FlowConv(i, s, flow);
  } else if (f[0] == "linear") {
    status = ParseLinear(i, f, s);
    if (status.ok()) status = FlowLinear(i, s, flow);
  } else {
    return Bad(i, s.name, "unknown layer kind");
  }
  if (!status.ok()) return status;
  flow.parameters += s.bias ? s.out : 0;
  if (flow.parameters > kMaxParameters) {
    return Bad(i, s.name, "too many parameters");
  }
  return s;
}

}  // namespace

bool IsChainSpec(absl::string_view architecture) {
  return absl::StartsWith(architecture, kChainPrefix);
}

std::string ChainSpecString(const std::vector<LayerSpec>& specs) {
  std::vector<std::string> layers;
  for (const LayerSpec& s : specs) {
    if (s.kind == LayerSpec::Kind::kConv2d) {
      layers.push_back(absl::StrCat(
          "conv2d/", s.name, "/", s.in, "/", s.out, "/k", s.kernel, "/s",
          s.stride, "/p", s.padding, "/b", s.bias ? 1 : 0, "/r",
          static_cast<int>(s.activation), PoolingField(s),
          ConvOptionFields(s)));
    } else {
      layers.push_back(absl::StrCat("linear/", s.name, "/", s.in, "/", s.out,
                                    "/f", s.flatten_before ? 1 : 0, "/b",
                                    s.bias ? 1 : 0, "/r",
                                    static_cast<int>(s.activation),
                                    DropoutField(s)));
    }
  }
  return absl::StrCat(kChainPrefix, absl::StrJoin(layers, ";"));
}

absl::StatusOr<std::vector<LayerSpec>> ParseChainSpec(absl::string_view text) {
  if (!IsChainSpec(text) || text.size() > 16384) {
    return absl::InvalidArgumentError("not an architecture chain");
  }
  const Fields layers = absl::StrSplit(text.substr(kChainPrefix.size()), ';');
  if (layers.empty() || static_cast<int>(layers.size()) > kMaxLayers) {
    return absl::InvalidArgumentError(
        "architecture chain needs 1 to 64 layers");
  }
  std::vector<LayerSpec> specs;
  std::set<std::string> names;
  Flow flow;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    absl::StatusOr<LayerSpec> s = ParseLayer(i, layers[i], flow);
    if (!s.ok()) return s.status();
    // Names become submodule names, which must be unique.
    if (!names.insert(s->name).second) return Bad(i, s->name, "duplicate name");
    specs.push_back(*std::move(s));
  }
  if (!flow.flat || flow.features != kNumClasses) {
    return absl::InvalidArgumentError(
        "architecture chain must end in 10 output features");
  }
  return specs;
}

}  // namespace cohort::ml::internal
