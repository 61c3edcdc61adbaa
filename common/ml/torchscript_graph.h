#ifndef COHORT_COMMON_ML_TORCHSCRIPT_GRAPH_H_
#define COHORT_COMMON_ML_TORCHSCRIPT_GRAPH_H_

// Internal to common/ml: a TorchScript module's forward graph as the chain
// reader (torchscript_chain.h) walks it, and what the reader asks of its
// nodes: where an op came from, which attribute a value is, which nodes
// only check or count and write nothing.

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::ml::internal {

// The submodule whose forward ran an op: its attribute path from the root
// module ("features.3") and its class's own name ("BatchNorm2d", without
// the TorchScript qualification). Both empty for an op written in the root
// module's forward itself.
struct ModuleOrigin {
  std::string path;
  std::string type;
};

// forward, inlined, with the module's bool, int and float attributes other
// than `training` (and optional ones that are None) folded to constants and
// constant-propagated, so only the branches the module takes remain.
// INVALID_ARGUMENT if forward writes an attribute (prim::SetAttr) anywhere,
// since folding would then be unsound. May throw c10::Error.
absl::StatusOr<std::shared_ptr<torch::jit::Graph>> ForwardGraph(
    const torch::jit::Module& module);

// True for what scripted nn modules do around their ops and the chain may
// skip: attribute lookups, constants, shape arithmetic, checks that raise,
// BatchNorm's batch counter. False for anything that yields a tensor or may
// write (calls left after inlining, forks, in-place or out= ops, attribute
// writes), including through the blocks of an if or a loop.
bool IsBookkeeping(const torch::jit::Node* node);

// From the call stack inlining recorded for the node.
ModuleOrigin NodeOrigin(const torch::jit::Node* node);

// "conv1.weight" for self.conv1.weight; empty if `value` is not a chain of
// attribute lookups on the module itself.
std::string AttributePath(const torch::jit::Value* value);

// A constant int list, either folded or built by prim::ListConstruct from
// constants (scripted code keeps literal lists as ListConstruct); a constant
// int reads as a one-element list. nullopt for anything else, such as a
// string (padding="same") or a value computed at run time.
using IntVector = std::vector<int64_t>;
std::optional<IntVector> IntList(const torch::jit::Value* value);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_TORCHSCRIPT_GRAPH_H_
