#include "common/ml/torchscript_chain.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "glog/logging.h"

namespace cohort::ml::internal {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// Every dropout flavour, so none slips through as an unknown op with a
// vaguer message; only the element-wise ones can be carried.
const std::set<std::string>& DropoutOps() {
  static const auto* ops =
      new std::set<std::string>{"aten::dropout",
                                "aten::dropout_",
                                "aten::feature_dropout",
                                "aten::feature_dropout_",
                                "aten::alpha_dropout",
                                "aten::alpha_dropout_",
                                "aten::feature_alpha_dropout",
                                "aten::feature_alpha_dropout_"};
  return *ops;
}

constexpr char kSupported[] =
    "supported: conv2d (any groups), batch_norm after a conv, linear, relu, "
    "relu6, hardswish, max_pool2d, avg_pool2d, adaptive_avg_pool2d to 1x1, "
    "flatten/view/reshape, dropout, and adding a layer's input back "
    "(residual)";

std::string OriginPrefix(const ModuleOrigin& origin) {
  if (origin.path.empty()) return "";
  return absl::StrCat("layer ", origin.path, " (", origin.type, "): ");
}

absl::Status Refuse(const Node* node, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(
      OriginPrefix(NodeOrigin(node)), "op ", node->kind().toQualString(), " ",
      why, " (", kSupported, ")"));
}

// "features.0" for "features.0.weight"; other paths as they are.
std::string LayerPath(absl::string_view weight_path) {
  absl::ConsumeSuffix(&weight_path, ".weight");
  return std::string(weight_path);
}

// "features.1" for "features.1.weight".
std::string ModulePath(const std::string& parameter_path) {
  const size_t dot = parameter_path.rfind('.');
  return dot == std::string::npos ? "" : parameter_path.substr(0, dot);
}

// A module's `training` attribute, as scripted nn.Dropout passes it.
bool IsTrainingFlag(const Value* value) {
  const Node* node = value->node();
  return node->kind() == c10::prim::GetAttr &&
         node->s(torch::jit::attr::name) == "training" &&
         !AttributePath(value).empty();
}

// The one size of a square setting; `if_empty` for an empty list (max-pool
// stride defaults to its kernel that way); -1 if not constant or not square.
int64_t Square(const std::optional<IntVector>& v, int64_t if_empty) {
  if (!v) return -1;
  if (v->empty()) return if_empty;
  if (v->size() == 1) return (*v)[0];
  return v->size() == 2 && (*v)[0] == (*v)[1] ? (*v)[0] : -1;
}

bool IsNone(const Value* value) {
  auto ivalue = torch::jit::toIValue(value);
  return ivalue && ivalue->isNone();
}

// A conv's padding: a size, or "same" to resolve from the kernel later.
struct ConvPadding {
  int64_t size = 0;
  bool same = false;
};

class ChainReader {
 public:
  absl::Status Read(const Node* node) {
    const std::string kind = node->kind().toQualString();
    if (IsBookkeeping(node)) return absl::OkStatus();
    if (kind == "aten::add" || kind == "aten::add_") return Residual(node);
    if (!node->blocks().empty()) {
      return Refuse(node,
                    "is control flow in forward (e.g. on self.training or an "
                    "input's shape); the chain must be straight-line ops");
    }
    if (!node->inputs().empty() &&
        std::find(layer_inputs_.begin(), layer_inputs_.end(),
                  node->input(0)) != layer_inputs_.end()) {
      return Refuse(node,
                    "starts a second branch from an earlier layer's input; "
                    "a shortcut must be the identity");
    }
    if (node->inputs().empty() || node->input(0) != current_) {
      return Refuse(node, "does not continue a single chain of layers");
    }
    const c10::FunctionSchema* schema = node->maybeSchema();
    if (schema != nullptr &&
        absl::StrContains(schema->overload_name(), "out")) {
      return Refuse(node, "writes into an out= tensor");
    }
    if (absl::Status s = Dispatch(node, kind); !s.ok()) return s;
    current_ = node->output();
    return absl::OkStatus();
  }

  void Start(const Value* input) { current_ = input; }
  const Value* current() const { return current_; }
  std::vector<ChainLayer> Take() { return std::move(layers_); }

 private:
  absl::Status Dispatch(const Node* node, const std::string& kind) {
    // _convolution_mode is how tracing records conv2d with a string
    // padding; its arguments are conv2d's.
    if (kind == "aten::conv2d" || kind == "aten::_convolution_mode" ||
        kind == "aten::_convolution") {
      return Conv(node, kind == "aten::_convolution");
    }
    if (kind == "aten::linear") return Layer(node, LayerSpec::Kind::kLinear);
    if (kind == "aten::relu" || kind == "aten::relu_") {
      return Activate(node, LayerSpec::Activation::kRelu);
    }
    if (kind == "aten::relu6" || kind == "aten::relu6_") {
      return Activate(node, LayerSpec::Activation::kRelu6);
    }
    if (kind == "aten::hardtanh" || kind == "aten::hardtanh_") {
      return Hardtanh(node);
    }
    if (kind == "aten::hardswish" || kind == "aten::hardswish_") {
      return Activate(node, LayerSpec::Activation::kHardswish);
    }
    if (kind == "aten::batch_norm") return BatchNorm(node);
    if (kind == "aten::max_pool2d") return Pool(node);
    if (kind == "aten::avg_pool2d") return AvgPool(node);
    if (kind == "aten::adaptive_avg_pool2d") return GlobalPool(node);
    if (kind == "aten::flatten" || kind == "aten::view" ||
        kind == "aten::reshape") {
      return Flatten(node, kind);
    }
    if (DropoutOps().count(kind) > 0) return Dropout(node, kind);
    return Refuse(node, "is not supported for int8 export");
  }

  absl::Status Layer(const Node* node, LayerSpec::Kind kind) {
    ChainLayer layer;
    layer.spec.kind = kind;
    layer.origin = NodeOrigin(node);
    layer.weight_path = AttributePath(node->input(1));
    if (layer.weight_path.empty()) {
      return Refuse(node, "takes a weight that is not a module parameter");
    }
    if (!IsNone(node->input(2))) {
      layer.bias_path = AttributePath(node->input(2));
      if (layer.bias_path.empty()) {
        return Refuse(node, "takes a bias that is not a module parameter");
      }
    }
    layer.spec.bias = !layer.bias_path.empty();
    // register_module rejects dots, so "features.0" becomes "features_0".
    layer.spec.name =
        absl::StrReplaceAll(LayerPath(layer.weight_path), {{".", "_"}});
    layer.spec.flatten_before = flatten_pending_;
    flatten_pending_ = false;
    layers_.push_back(std::move(layer));
    layer_inputs_.push_back(current_);
    return absl::OkStatus();
  }

  absl::Status Conv(const Node* node, bool raw) {
    // conv2d(x, w, b, stride, padding, dilation, groups);
    // _convolution(x, w, b, stride, padding, dilation, transposed,
    //              output_padding, groups, ...).
    const int64_t stride = Square(IntList(node->input(3)), -1);
    const int64_t dilation = Square(IntList(node->input(5)), -1);
    auto groups = torch::jit::toIValue(node->input(raw ? 8 : 6));
    bool transposed = false;
    if (raw) {
      auto t = torch::jit::toIValue(node->input(6));
      transposed = !t || !t->isBool() || t->toBool();
    }
    if (stride < 1 || dilation != 1 || transposed || !groups ||
        !groups->isInt() || groups->toInt() < 1) {
      return Refuse(node,
                    "needs a square constant stride, dilation 1, constant "
                    "groups and no transposition");
    }
    if (flatten_pending_) {
      return Refuse(node,
                    "follows a flatten/view/reshape; only a linear layer may");
    }
    absl::StatusOr<ConvPadding> padding = Padding(node, stride);
    if (!padding.ok()) return padding.status();
    if (absl::Status s = Layer(node, LayerSpec::Kind::kConv2d); !s.ok()) {
      return s;
    }
    layers_.back().spec.stride = stride;
    layers_.back().spec.groups = groups->toInt();
    layers_.back().spec.padding = padding->size;
    layers_.back().pad_same = padding->same;
    return absl::OkStatus();
  }

  // A square constant size, or the string of conv2d's padding overload.
  // "same" pads by (kernel - 1) / 2 on each side only for an odd kernel at
  // stride 1; the kernel is checked once the weight's shape is known.
  absl::StatusOr<ConvPadding> Padding(const Node* node, int64_t stride) {
    const auto constant = torch::jit::toIValue(node->input(4));
    if (constant && constant->isString()) {
      const std::string mode = constant->toStringRef();
      if (mode == "valid") return ConvPadding{0, false};
      if (mode == "same" && stride == 1) return ConvPadding{0, true};
      return Refuse(node, absl::StrCat("has padding='", mode,
                                       "'; only 'valid', or 'same' at "
                                       "stride 1, can be expressed"));
    }
    const int64_t size = Square(IntList(node->input(4)), -1);
    if (size < 0) return Refuse(node, "needs a square constant padding");
    return ConvPadding{size, false};
  }

  // flatten(x, 1, -1), or view/reshape to two dims such as
  // x.view(x.size(0), -1): the next linear layer's width checks the rest.
  absl::Status Flatten(const Node* node, const std::string& kind) {
    bool ok = false;
    if (kind == "aten::flatten") {
      const auto start = torch::jit::toIValue(node->input(1));
      const auto end = torch::jit::toIValue(node->input(2));
      ok = start && end && start->isInt() && end->isInt() &&
           start->toInt() == 1 && end->toInt() == -1;
    } else {
      const Value* shape = node->input(1);
      const auto constant = torch::jit::toIValue(shape);
      ok = constant ? constant->isIntList() &&
                          constant->toIntVector().size() == 2
                    : shape->node()->kind() == c10::prim::ListConstruct &&
                          shape->node()->inputs().size() == 2;
    }
    if (!ok) {
      return Refuse(node,
                    "is supported only as a flatten to (batch, features): "
                    "flatten(x, 1) or a view/reshape to two dims");
    }
    flatten_pending_ = true;
    return absl::OkStatus();
  }

  // The last layer, if it is a conv still open for a batch norm or a
  // residual: nothing of that stage or after it set yet.
  enum class Stage { kBatchNorm, kResidual };
  bool OpenConv(Stage stage) const {
    if (layers_.empty() || flatten_pending_) return false;
    const LayerSpec& s = layers_.back().spec;
    if (s.kind != LayerSpec::Kind::kConv2d || s.pooled() || s.dropout > 0.0 ||
        s.activation != LayerSpec::Activation::kNone) {
      return false;
    }
    return s.residual < 0 && (stage == Stage::kResidual || !s.batch_norm);
  }

  absl::Status Activate(const Node* node, LayerSpec::Activation activation) {
    if (layers_.empty() ||
        layers_.back().spec.activation != LayerSpec::Activation::kNone) {
      return Refuse(node, "must follow a conv or linear layer");
    }
    const LayerSpec& s = layers_.back().spec;
    // An element-wise activation commutes with flatten; ReLU and ReLU6 (not
    // decreasing) with max-pooling; ReLU (positively homogeneous) with
    // dropout's scaling too. Nothing else may come between.
    const bool relu = activation == LayerSpec::Activation::kRelu;
    const bool monotone = relu || activation == LayerSpec::Activation::kRelu6;
    if ((s.pooled() && (s.pool_kind != LayerSpec::Pool::kMax || !monotone)) ||
        (s.dropout > 0.0 && !relu)) {
      return Refuse(node,
                    "must come before the layer's pooling and dropout");
    }
    if (s.residual >= 0 && !relu) {
      return Refuse(node,
                    "follows a residual addition; only relu may (int8 has "
                    "no fused kernel for the others)");
    }
    layers_.back().spec.activation = activation;
    return absl::OkStatus();
  }

  // hardtanh(x, 0, 6) is how nn.ReLU6 and F.relu6 are scripted.
  absl::Status Hardtanh(const Node* node) {
    const auto lo = torch::jit::toIValue(node->input(1));
    const auto hi = torch::jit::toIValue(node->input(2));
    if (!lo || !hi || !lo->isDouble() || !hi->isDouble() ||
        lo->toDouble() != 0.0 || hi->toDouble() != 6.0) {
      return Refuse(node, "is supported only as ReLU6, hardtanh(x, 0, 6)");
    }
    return Activate(node, LayerSpec::Activation::kRelu6);
  }

  // batch_norm(x, weight, bias, running_mean, running_var, training,
  //            momentum, eps, cudnn_enabled), right after a conv.
  absl::Status BatchNorm(const Node* node) {
    if (!OpenConv(Stage::kBatchNorm)) {
      return Refuse(node, "must directly follow a conv layer, once");
    }
    if (!IsTrainingFlag(node->input(5))) {
      return Refuse(node,
                    "needs training=self.training (a scripted BatchNorm2d); "
                    "a traced one keeps the mode it was traced in");
    }
    const auto momentum = torch::jit::toIValue(node->input(6));
    const auto eps = torch::jit::toIValue(node->input(7));
    if (!momentum || !momentum->isDouble() || !eps || !eps->isDouble() ||
        momentum->toDouble() != kBatchNormMomentum ||
        eps->toDouble() != kBatchNormEps) {
      return Refuse(node, "needs PyTorch's default momentum 0.1 and eps 1e-5");
    }
    ChainLayer& layer = layers_.back();
    const std::vector<std::string> paths = {
        AttributePath(node->input(1)), AttributePath(node->input(2)),
        AttributePath(node->input(3)), AttributePath(node->input(4))};
    const std::string prefix = absl::StrCat(ModulePath(paths[0]), ".");
    if (!absl::EndsWith(paths[0], ".weight") ||
        paths[1] != prefix + "bias" || paths[2] != prefix + "running_mean" ||
        paths[3] != prefix + "running_var") {
      return Refuse(node,
                    "needs a module's own weight, bias and running "
                    "statistics (affine=True, track_running_stats=True)");
    }
    layer.batch_norm_path = ModulePath(paths[0]);
    layer.spec.batch_norm = true;
    return absl::OkStatus();
  }

  // add(x, y, alpha=1) where one side is the chain and the other the input
  // of an earlier layer: a residual on the last (conv) layer.
  absl::Status Residual(const Node* node) {
    const auto alpha = node->inputs().size() == 3
                           ? torch::jit::toIValue(node->input(2))
                           : c10::optional<c10::IValue>();
    if (node->inputs().size() != 3 || !alpha || !alpha->isInt() ||
        alpha->toInt() != 1) {
      return Refuse(node, "is supported only as tensor + tensor");
    }
    // add_ writes its first operand: only the chain may be written.
    const bool in_place = node->kind() == c10::aten::add_;
    const Value* other = node->input(0) == current_ ? node->input(1)
                         : node->input(1) == current_ && !in_place
                             ? node->input(0)
                             : nullptr;
    const auto from = std::find(layer_inputs_.begin(), layer_inputs_.end(),
                                other);
    if (other == nullptr || from == layer_inputs_.end()) {
      return Refuse(node,
                    "adds tensors other than the chain and an earlier "
                    "layer's input (a shortcut must be the identity)");
    }
    if (!OpenConv(Stage::kResidual)) {
      return Refuse(node,
                    "must follow a conv (and its batch norm) directly; the "
                    "activation comes after the addition");
    }
    layers_.back().spec.residual = from - layer_inputs_.begin();
    current_ = node->output();
    return absl::OkStatus();
  }

  // The pooling of the last layer: it must be a conv, pooled once, not
  // after its dropout.
  absl::Status CanPool(const Node* node) {
    if (layers_.empty() ||
        layers_.back().spec.kind != LayerSpec::Kind::kConv2d ||
        layers_.back().spec.pooled() || flatten_pending_) {
      return Refuse(node, "must follow a conv layer, once");
    }
    if (layers_.back().spec.dropout > 0.0) {
      // Pooling dropped-out activations is not dropout after pooling.
      return Refuse(node, "follows a dropout; put the dropout after pooling");
    }
    return absl::OkStatus();
  }

  // Inputs 1 to 3 of max_pool2d and avg_pool2d: a square constant kernel,
  // stride (its kernel when empty) and padding; -1 for anything else.
  struct Window {
    int64_t kernel, stride, padding;
  };
  static Window PoolWindow(const Node* node) {
    const int64_t kernel = Square(IntList(node->input(1)), -1);
    return {kernel, Square(IntList(node->input(2)), kernel),
            Square(IntList(node->input(3)), -1)};
  }

  absl::Status Pool(const Node* node) {
    // max_pool2d(x, kernel, stride, padding, dilation, ceil_mode).
    const auto [kernel, stride, padding] = PoolWindow(node);
    const int64_t dilation = Square(IntList(node->input(4)), -1);
    auto ceil = torch::jit::toIValue(node->input(5));
    if (absl::Status s = CanPool(node); !s.ok()) return s;
    if (kernel < 1 || stride < 1 || padding != 0 || dilation != 1 || !ceil ||
        !ceil->isBool() || ceil->toBool()) {
      return Refuse(node,
                    "needs a square constant kernel, no padding, dilation 1 "
                    "and ceil_mode off");
    }
    SetPool(LayerSpec::Pool::kMax, kernel, stride);
    return absl::OkStatus();
  }

  // avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad,
  //            divisor_override).
  absl::Status AvgPool(const Node* node) {
    const auto [kernel, stride, padding] = PoolWindow(node);
    auto ceil = torch::jit::toIValue(node->input(4));
    if (absl::Status s = CanPool(node); !s.ok()) return s;
    if (kernel < 1 || stride < 1 || padding != 0 || !ceil || !ceil->isBool() ||
        ceil->toBool() || !IsNone(node->input(6))) {
      return Refuse(node,
                    "needs a square constant kernel, no padding, ceil_mode "
                    "off and no divisor_override");
    }
    SetPool(LayerSpec::Pool::kAvg, kernel, stride);
    return absl::OkStatus();
  }

  // adaptive_avg_pool2d(x, output_size): only to 1x1, global pooling.
  absl::Status GlobalPool(const Node* node) {
    if (absl::Status s = CanPool(node); !s.ok()) return s;
    if (Square(IntList(node->input(1)), -1) != 1) {
      return Refuse(node, "is supported only to output size 1 (global)");
    }
    SetPool(LayerSpec::Pool::kGlobalAvg, 0, 0);
    return absl::OkStatus();
  }

  void SetPool(LayerSpec::Pool kind, int64_t kernel, int64_t stride) {
    LayerSpec& s = layers_.back().spec;
    s.pool_kind = kind;
    s.pool = kernel;
    s.pool_stride = stride;
  }

  // dropout(x, p, train). Carried when `train` is a module's training flag;
  // the identity when it is the constant False.
  absl::Status Dropout(const Node* node, const std::string& kind) {
    const auto train = torch::jit::toIValue(node->input(2));
    if (train && train->isBool() && !train->toBool()) {
      LOG(WARNING) << OriginPrefix(NodeOrigin(node)) << kind
                   << " has the constant train=False (a module traced in "
                      "eval mode?), so it never drops and is left out; "
                      "export with torch.jit.script to train with dropout";
      return absl::OkStatus();
    }
    if (!IsTrainingFlag(node->input(2))) {
      return Refuse(node,
                    "needs train=self.training: with a constant True or a "
                    "computed flag it would drop at inference too");
    }
    if (kind != "aten::dropout" && kind != "aten::dropout_") {
      return Refuse(node,
                    "drops whole channels or keeps self-normalising "
                    "statistics; only element-wise dropout (nn.Dropout) is");
    }
    return CarryDropout(node);
  }

  absl::Status CarryDropout(const Node* node) {
    const auto p = torch::jit::toIValue(node->input(1));
    if (!p || !p->isDouble() || !(p->toDouble() >= 0.0) ||
        !(p->toDouble() < 1.0)) {
      return Refuse(node, "needs a constant probability 0 <= p < 1");
    }
    if (p->toDouble() == 0.0) return absl::OkStatus();
    if (layers_.empty()) {
      return Refuse(node, "drops the network's input; only a layer's output");
    }
    if (layers_.back().spec.dropout > 0.0) {
      return Refuse(node, "is a second dropout on one layer's output");
    }
    layers_.back().spec.dropout = p->toDouble();
    return absl::OkStatus();
  }

  const Value* current_ = nullptr;
  bool flatten_pending_ = false;
  std::vector<ChainLayer> layers_;
  // What each layer took as its input, for residuals.
  std::vector<const Value*> layer_inputs_;
};

}  // namespace

std::string DescribeLayer(const ChainLayer& layer) {
  if (!layer.origin.path.empty()) {
    return absl::StrCat("layer ", layer.origin.path, " (", layer.origin.type,
                        ")");
  }
  return absl::StrCat("layer ", LayerPath(layer.weight_path));
}

absl::StatusOr<std::vector<ChainLayer>> ReadChain(torch::jit::Module& module) {
  absl::StatusOr<std::shared_ptr<torch::jit::Graph>> forward =
      ForwardGraph(module);
  if (!forward.ok()) return forward.status();
  const std::shared_ptr<torch::jit::Graph>& graph = *forward;
  if (graph->inputs().size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "forward takes ", graph->inputs().size() - 1, " inputs, want 1"));
  }
  ChainReader reader;
  reader.Start(graph->inputs()[1]);
  for (const Node* node : graph->nodes()) {
    if (absl::Status s = reader.Read(node); !s.ok()) return s;
  }
  if (graph->outputs().size() != 1 || graph->outputs()[0] != reader.current()) {
    return absl::InvalidArgumentError(
        "forward does not return the output of its last layer");
  }
  std::vector<ChainLayer> layers = reader.Take();
  if (layers.empty()) {
    return absl::InvalidArgumentError("forward has no conv or linear layer");
  }
  return layers;
}

}  // namespace cohort::ml::internal
