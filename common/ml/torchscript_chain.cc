#include "common/ml/torchscript_chain.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/ir/scope.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "glog/logging.h"

namespace cohort::ml::internal {
namespace {

using torch::jit::Node;
using torch::jit::Value;
using IntVector = std::vector<int64_t>;

// Ops that only compute shapes, constants or attribute lookups.
const std::set<std::string>& BookkeepingOps() {
  static const auto* ops = new std::set<std::string>{
      "prim::Constant",    "prim::GetAttr", "prim::ListConstruct",
      "prim::NumToTensor", "aten::size",    "aten::Int",
      "prim::ListUnpack"};
  return *ops;
}

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
    "supported: conv2d, linear, relu, max_pool2d, flatten/view/reshape, "
    "dropout";

// Inlining records, for every op, the chain of calls it came through; a
// call to a submodule's method carries the attribute it was reached by and
// the submodule's class. "SELF" marks a module calling its own method
// (Conv2d.forward -> _conv_forward) and adds nothing to the path.
ModuleOrigin NodeOrigin(const Node* node) {
  ModuleOrigin origin;
  const c10::optional<torch::jit::InlinedCallStackPtr> callstack =
      node->callstack();
  if (!callstack) return origin;
  std::vector<std::string> parts;
  for (const auto& entry : (*callstack)->vec()) {
    const auto& info = std::get<torch::jit::kModuleInstanceInfo>(entry);
    if (!info) continue;  // a free function, e.g. F.relu
    const std::string name = info->instance_name();
    if (name == "INSTANCE_NAME_UNKNOWN") {
      parts.push_back("?");
    } else if (name != "SELF") {
      parts.push_back(name);
    }
    const c10::ClassTypePtr type = info->class_type();
    if (type && type->name()) origin.type = type->name()->name();
  }
  origin.path = absl::StrJoin(parts, ".");
  return origin;
}

std::string OriginPrefix(const ModuleOrigin& origin) {
  if (origin.path.empty()) return "";
  return absl::StrCat("layer ", origin.path, " (", origin.type, "): ");
}

absl::Status Refuse(const Node* node, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(
      OriginPrefix(NodeOrigin(node)), "op ", node->kind().toQualString(), " ",
      why, " (", kSupported, ")"));
}

// "conv1.weight" for self.conv1.weight; empty if `value` is not a chain of
// attribute lookups on the module itself.
std::string AttributePath(const Value* value) {
  std::vector<std::string> parts;
  const Node* node = value->node();
  while (node->kind() == c10::prim::GetAttr) {
    parts.insert(parts.begin(), node->s(torch::jit::attr::name));
    node = node->input(0)->node();
  }
  if (node->kind() != c10::prim::Param) return "";
  return absl::StrJoin(parts, ".");
}

// A module's `training` attribute, as scripted nn.Dropout passes it.
bool IsTrainingFlag(const Value* value) {
  const Node* node = value->node();
  return node->kind() == c10::prim::GetAttr &&
         node->s(torch::jit::attr::name) == "training";
}

// A constant int list, either folded or built by prim::ListConstruct from
// constants (scripted code keeps literal lists as ListConstruct); a constant
// int reads as a one-element list. nullopt for anything else, such as a
// string (padding="same") or a value computed at run time.
std::optional<IntVector> IntList(const Value* value) {
  if (auto ivalue = torch::jit::toIValue(value)) {
    if (ivalue->isIntList()) return ivalue->toIntVector();
    if (ivalue->isInt()) return IntVector{ivalue->toInt()};
    return std::nullopt;
  }
  const Node* node = value->node();
  if (node->kind() != c10::prim::ListConstruct) return std::nullopt;
  IntVector out;
  for (const Value* element : node->inputs()) {
    auto item = torch::jit::toIValue(element);
    if (!item || !item->isInt()) return std::nullopt;
    out.push_back(item->toInt());
  }
  return out;
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
    if (BookkeepingOps().count(kind) > 0) return absl::OkStatus();
    if (!node->blocks().empty()) {
      return Refuse(node,
                    "is control flow in forward (e.g. on self.training or an "
                    "input's shape); the chain must be straight-line ops");
    }
    if (node->inputs().empty() || node->input(0) != current_) {
      return Refuse(node, "does not continue a single chain of layers");
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
    if (kind == "aten::relu" || kind == "aten::relu_") return Relu(node);
    if (kind == "aten::max_pool2d") return Pool(node);
    if (kind == "aten::flatten" || kind == "aten::view" ||
        kind == "aten::reshape") {
      flatten_pending_ = true;
      return absl::OkStatus();
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
    std::string name = layer.weight_path;
    if (absl::EndsWith(name, ".weight")) {
      name.resize(name.size() - std::string(".weight").size());
    }
    layer.spec.name = absl::StrReplaceAll(name, {{".", "_"}});
    layer.spec.flatten_before = flatten_pending_;
    flatten_pending_ = false;
    layers_.push_back(std::move(layer));
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
        !groups->isInt() || groups->toInt() != 1) {
      return Refuse(node,
                    "needs a square constant stride, dilation 1, groups 1 "
                    "and no transposition");
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

  absl::Status Relu(const Node* node) {
    // ReLU commutes with max-pooling, flatten and dropout (which scales by
    // a positive factor), so it may follow any of them.
    if (layers_.empty() || layers_.back().spec.relu) {
      return Refuse(node, "must follow a conv or linear layer");
    }
    layers_.back().spec.relu = true;
    return absl::OkStatus();
  }

  absl::Status Pool(const Node* node) {
    // max_pool2d(x, kernel, stride, padding, dilation, ceil_mode).
    const int64_t kernel = Square(IntList(node->input(1)), -1);
    const int64_t stride = Square(IntList(node->input(2)), kernel);
    const int64_t padding = Square(IntList(node->input(3)), -1);
    const int64_t dilation = Square(IntList(node->input(4)), -1);
    auto ceil = torch::jit::toIValue(node->input(5));
    if (layers_.empty() ||
        layers_.back().spec.kind != LayerSpec::Kind::kConv2d ||
        layers_.back().spec.pool > 0) {
      return Refuse(node, "must follow a conv layer, once");
    }
    if (layers_.back().spec.dropout > 0.0) {
      // Pooling dropped-out activations is not dropout after pooling.
      return Refuse(node, "follows a dropout; put the dropout after pooling");
    }
    if (kernel < 1 || stride < 1 || padding != 0 || dilation != 1 || !ceil ||
        !ceil->isBool() || ceil->toBool()) {
      return Refuse(node,
                    "needs a square constant kernel, no padding, dilation 1 "
                    "and ceil_mode off");
    }
    layers_.back().spec.pool = kernel;
    layers_.back().spec.pool_stride = stride;
    return absl::OkStatus();
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
};

}  // namespace

std::string DescribeLayer(const ChainLayer& layer) {
  if (!layer.origin.path.empty()) {
    return absl::StrCat("layer ", layer.origin.path, " (", layer.origin.type,
                        ")");
  }
  std::string path = layer.weight_path;
  if (absl::EndsWith(path, ".weight")) {
    path.resize(path.size() - std::string(".weight").size());
  }
  return absl::StrCat("layer ", path);
}

absl::StatusOr<std::vector<ChainLayer>> ReadChain(torch::jit::Module& module) {
  std::shared_ptr<torch::jit::Graph> graph =
      module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  // Scripted nn modules branch on constant attributes (padding_mode,
  // inplace); folding them leaves the straight-line graph of ops.
  torch::jit::ConstantPropagation(graph);
  torch::jit::EliminateDeadCode(graph);
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
