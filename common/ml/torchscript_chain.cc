#include "common/ml/torchscript_chain.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace cohort::ml::internal {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// Ops that only compute shapes, constants or attribute lookups.
const std::set<std::string>& BookkeepingOps() {
  static const auto* ops = new std::set<std::string>{
      "prim::Constant",    "prim::GetAttr", "prim::ListConstruct",
      "prim::NumToTensor", "aten::size",    "aten::Int",
      "prim::ListUnpack"};
  return *ops;
}

constexpr char kSupported[] =
    "supported: conv2d, linear, relu, max_pool2d, flatten/view/reshape, "
    "dropout";

absl::Status Refuse(const Node* node, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "op ", node->kind().toQualString(), " ", why, " (", kSupported, ")"));
}

// "conv1.weight" for self.conv1.weight; empty if `value` is not a chain of
// attribute lookups on the module itself.
std::string AttributePath(const Value* value) {
  std::vector<std::string> parts;
  const Node* node = value->node();
  while (node->kind().toQualString() == std::string("prim::GetAttr")) {
    parts.insert(parts.begin(), node->s(torch::jit::attr::name));
    node = node->input(0)->node();
  }
  if (node->kind() != c10::prim::Param) return "";
  return absl::StrJoin(parts, ".");
}

// A constant int list, either folded or built by prim::ListConstruct from
// constants (scripted code keeps literal lists as ListConstruct). Empty if
// any element is not a constant int.
std::vector<int64_t> IntList(const Value* value) {
  if (auto ivalue = torch::jit::toIValue(value)) {
    if (ivalue->isIntList()) return ivalue->toIntVector();
    if (ivalue->isInt()) return {ivalue->toInt()};
    return {};
  }
  const Node* node = value->node();
  if (node->kind() != c10::prim::ListConstruct) return {};
  std::vector<int64_t> out;
  for (const Value* element : node->inputs()) {
    auto item = torch::jit::toIValue(element);
    if (!item || !item->isInt()) return {};
    out.push_back(item->toInt());
  }
  return out;
}

int64_t Square(const std::vector<int64_t>& v, int64_t fallback) {
  if (v.empty()) return fallback;
  if (v.size() == 1) return v[0];
  return v.size() == 2 && v[0] == v[1] ? v[0] : -1;
}

bool IsNone(const Value* value) {
  auto ivalue = torch::jit::toIValue(value);
  return ivalue && ivalue->isNone();
}

class ChainReader {
 public:
  absl::Status Read(const Node* node) {
    const std::string kind = node->kind().toQualString();
    if (BookkeepingOps().count(kind) > 0) return absl::OkStatus();
    if (node->inputs().empty() || node->input(0) != current_) {
      return Refuse(node, "does not continue a single chain of layers");
    }
    absl::Status status;
    if (kind == "aten::conv2d" || kind == "aten::_convolution") {
      status = Conv(node, kind == "aten::_convolution");
    } else if (kind == "aten::linear") {
      status = Layer(node, LayerSpec::Kind::kLinear);
    } else if (kind == "aten::relu" || kind == "aten::relu_") {
      if (layers_.empty() || layers_.back().spec.relu) {
        return Refuse(node, "must follow a conv or linear layer");
      }
      layers_.back().spec.relu = true;
    } else if (kind == "aten::max_pool2d") {
      status = Pool(node);
    } else if (kind == "aten::flatten" || kind == "aten::view" ||
               kind == "aten::reshape") {
      flatten_pending_ = true;
    } else if (kind != "aten::dropout" && kind != "aten::dropout_" &&
               kind != "aten::feature_dropout") {
      return Refuse(node, "is not supported for int8 export");
    }
    if (!status.ok()) return status;
    current_ = node->output();
    return absl::OkStatus();
  }

  void Start(const Value* input) { current_ = input; }
  const Value* current() const { return current_; }
  std::vector<ChainLayer> Take() { return std::move(layers_); }

 private:
  absl::Status Layer(const Node* node, LayerSpec::Kind kind) {
    ChainLayer layer;
    layer.spec.kind = kind;
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
    std::string name = layer.weight_path.substr(
        0, layer.weight_path.size() - std::string(".weight").size());
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
    const int64_t stride = Square(IntList(node->input(3)), 1);
    const int64_t padding = Square(IntList(node->input(4)), 0);
    const int64_t dilation = Square(IntList(node->input(5)), 1);
    auto groups = torch::jit::toIValue(node->input(raw ? 8 : 6));
    bool transposed = false;
    if (raw) {
      auto t = torch::jit::toIValue(node->input(6));
      transposed = !t || !t->isBool() || t->toBool();
    }
    if (stride < 1 || padding < 0 || dilation != 1 || transposed || !groups ||
        !groups->isInt() || groups->toInt() != 1) {
      return Refuse(node,
                    "needs square constant stride and padding, dilation 1, "
                    "groups 1 and no transposition");
    }
    if (absl::Status s = Layer(node, LayerSpec::Kind::kConv2d); !s.ok()) {
      return s;
    }
    layers_.back().spec.stride = stride;
    layers_.back().spec.padding = padding;
    return absl::OkStatus();
  }

  absl::Status Pool(const Node* node) {
    // max_pool2d(x, kernel, stride, padding, dilation, ceil_mode).
    const int64_t kernel = Square(IntList(node->input(1)), -1);
    const int64_t stride = Square(IntList(node->input(2)), kernel);
    const int64_t padding = Square(IntList(node->input(3)), 0);
    const int64_t dilation = Square(IntList(node->input(4)), 1);
    auto ceil = torch::jit::toIValue(node->input(5));
    if (layers_.empty() ||
        layers_.back().spec.kind != LayerSpec::Kind::kConv2d ||
        layers_.back().spec.pool > 0) {
      return Refuse(node, "must follow a conv layer, once");
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

  const Value* current_ = nullptr;
  bool flatten_pending_ = false;
  std::vector<ChainLayer> layers_;
};

}  // namespace

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
  if (graph->outputs().size() != 1 ||
      graph->outputs()[0] != reader.current()) {
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
