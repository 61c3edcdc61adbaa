#ifndef COHORT_COMMON_ML_CHAIN_SPEC_H_
#define COHORT_COMMON_ML_CHAIN_SPEC_H_

// Internal to common/ml: a Network's layer chain as a printable architecture
// name, so a model imported from TorchScript can travel through rounds like a
// zoo model. The coordinator puts the string in ModelRef.architecture and
// every device rebuilds the same chain from it; no code or pickled object
// ever crosses the network. Example (two layers):
//
//   chain:conv2d/conv1/1/8/k5/s1/p0/b1/r1/m2x2;linear/fc/1152/10/f1/b1/r0
//
// Fields after kind/name/in/out: k kernel, s stride, p padding, b bias,
// r activation (0 none, 1 relu, 2 relu6, 3 hardswish), pooling (m<k>x<s>
// max, m0x0 none, v<k>x<s> average, vg global average), f flatten before.
// A conv layer may then carry, in this order, g<groups>, n1 (batch norm) and
// +<j> (add the input of layer j before the activation). Last, only on a
// layer with dropout, d the dropout probability in (0, 1) written as the
// shortest decimal that reads back exactly (e.g. "/d0.25"). Chains without
// the newer fields keep the names they had before those fields existed.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ml/layer_spec.h"

namespace cohort::ml::internal {

inline constexpr absl::string_view kChainPrefix = "chain:";

bool IsChainSpec(absl::string_view architecture);

std::string ChainSpecString(const std::vector<LayerSpec>& specs);

// Parses and checks a chain from an untrusted string: at most 64 layers,
// unique names of [A-Za-z0-9_], sizes in range, channels divisible by
// groups, dropout in (0, 1), residuals from an earlier layer whose input has
// this layer's shape (and then no activation but relu), shapes that chain
// from [N, 1, 28, 28] to [N, 10], at most 50M weights.
// INVALID_ARGUMENT with the reason, and the layer's index and name,
// otherwise.
absl::StatusOr<std::vector<LayerSpec>> ParseChainSpec(absl::string_view text);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_CHAIN_SPEC_H_
