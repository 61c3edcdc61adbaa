#include "common/ml/torchscript_graph.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/scope.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <set>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

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

// Conservative: an object, interface or Any may hold a tensor.
bool HoldsTensor(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
    case c10::TypeKind::AnyType:
    case c10::TypeKind::ClassType:
    case c10::TypeKind::InterfaceType:
      return true;
    default:
      break;
  }
  for (const c10::TypePtr& inner : type->containedTypes()) {
    if (HoldsTensor(inner)) return true;
  }
  return false;
}

// Scripted BatchNorm2d counts the batches it has seen: += 1 on its own
// num_batches_tracked, result unused. The count only matters for
// momentum=None, which is refused.
bool IsBatchCounter(const Node* node) {
  if (node->kind() != c10::aten::add_ || node->inputs().size() != 3 ||
      !node->output()->uses().empty()) {
    return false;
  }
  const Node* target = node->input(0)->node();
  if (target->kind() != c10::prim::GetAttr ||
      target->s(torch::jit::attr::name) != "num_batches_tracked") {
    return false;
  }
  const c10::ClassTypePtr owner =
      target->input(0)->type()->cast<c10::ClassType>();
  const auto one = torch::jit::toIValue(node->input(1));
  const auto alpha = torch::jit::toIValue(node->input(2));
  return owner != nullptr && owner->name() &&
         absl::StartsWith(owner->name()->name(), "BatchNorm") && one &&
         one->isInt() && one->toInt() == 1 && alpha && alpha->isInt() &&
         alpha->toInt() == 1;
}

// A node that may change state: calls that inlining left (interfaces,
// function values), forks, attribute writes, in-place or out= ops on lists
// or tensors.
bool MayWrite(const Node* node) {
  const c10::Symbol kind = node->kind();
  if (kind == c10::prim::CallMethod || kind == c10::prim::CallFunction ||
      kind == c10::prim::fork || kind == c10::prim::SetAttr ||
      kind == c10::prim::Enter || kind == c10::prim::Exit) {
    return true;
  }
  if (node->hasSideEffects()) return true;
  const c10::FunctionSchema* schema = node->maybeSchema();
  return schema != nullptr && schema->is_mutable();
}

bool WritesAttribute(const torch::jit::Block* block) {
  for (const Node* node : block->nodes()) {
    if (node->kind() == c10::prim::SetAttr) return true;
    for (const torch::jit::Block* inner : node->blocks()) {
      if (WritesAttribute(inner)) return true;
    }
  }
  return false;
}

// The value of a scalar attribute such as blocks.0.use_residual.
std::optional<c10::IValue> AttributeValue(const torch::jit::Module& module,
                                          const std::string& path) {
  torch::jit::Module owner = module;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!owner.hasattr(parts[i])) return std::nullopt;
    const c10::IValue next = owner.attr(parts[i]);
    if (!next.isObject()) return std::nullopt;
    owner = torch::jit::Module(next.toObject());
  }
  if (!owner.hasattr(parts.back())) return std::nullopt;
  return owner.attr(parts.back());
}

// Blocks branch on their own settings (torchvision's InvertedResidual on
// self.use_res_connect): a module's bool, int and float attributes other
// than `training`, and optional ones that are None, become constants, so
// that constant propagation keeps only the branch the module takes. The
// architecture is fixed at import.
void FoldScalarAttributes(torch::jit::Block* block,
                          const torch::jit::Module& module) {
  for (Node* node : block->nodes()) {
    for (torch::jit::Block* inner : node->blocks()) {
      FoldScalarAttributes(inner, module);
    }
    if (node->kind() != c10::prim::GetAttr ||
        node->s(torch::jit::attr::name) == "training") {
      continue;
    }
    const c10::TypeKind type = node->output()->type()->kind();
    if (type != c10::TypeKind::BoolType && type != c10::TypeKind::IntType &&
        type != c10::TypeKind::FloatType &&
        type != c10::TypeKind::OptionalType) {
      continue;
    }
    const std::string path = AttributePath(node->output());
    if (path.empty()) continue;
    const std::optional<c10::IValue> value = AttributeValue(module, path);
    // An optional attribute (Conv2d's bias) folds only when it is None.
    if (!value || (type == c10::TypeKind::OptionalType && !value->isNone())) {
      continue;
    }
    torch::jit::WithInsertPoint guard(node);
    node->output()->replaceAllUsesWith(
        block->owningGraph()->insertConstant(*value));
  }
}

}  // namespace

// What scripted nn modules do around their ops: attribute lookups, shape
// checks that raise, batch counters. Such a node yields no tensor and
// writes nothing, and so neither can anything in its blocks; nothing it
// computes reaches the chain except through the arguments of a chain op,
// which are checked there (constant strides, kernels, shapes).
bool IsBookkeeping(const Node* node) {
  if (BookkeepingOps().count(node->kind().toQualString()) > 0) return true;
  if (IsBatchCounter(node)) return true;
  // Raising, warning and printing are effects, but harmless ones.
  if (node->kind() == c10::prim::RaiseException ||
      node->kind() == c10::aten::warn || node->kind() == c10::prim::Print) {
    return true;
  }
  if (MayWrite(node)) return false;
  for (const Value* out : node->outputs()) {
    if (HoldsTensor(out->type())) return false;
  }
  for (const torch::jit::Block* block : node->blocks()) {
    for (const Node* inner : block->nodes()) {
      if (!IsBookkeeping(inner)) return false;
    }
  }
  return true;
}

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

absl::StatusOr<std::shared_ptr<torch::jit::Graph>> ForwardGraph(
    const torch::jit::Module& module) {
  std::shared_ptr<torch::jit::Graph> graph =
      module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  // Folding attributes into constants is sound only if forward never
  // writes one.
  if (WritesAttribute(graph->block())) {
    return absl::InvalidArgumentError(
        "forward writes a module attribute (prim::SetAttr)");
  }
  FoldScalarAttributes(graph->block(), module);
  // Scripted nn modules branch on constant attributes (padding_mode,
  // inplace); folding them leaves the straight-line graph of ops.
  torch::jit::ConstantPropagation(graph);
  torch::jit::EliminateDeadCode(graph);
  return graph;
}

}  // namespace cohort::ml::internal
