#ifndef COHORT_COMMON_ML_PICKLE_CHECK_H_
#define COHORT_COMMON_ML_PICKLE_CHECK_H_

// Internal to common/ml: the structure of a pickle in a TorchScript archive
// (data.pkl, constants.pkl, code/...debug_pkl), checked before LibTorch's
// unpickler reads it. Torch-free, so the fuzz build can hold it.
//
// LibTorch 1.13's unpickler trusts the stack a pickle builds: an opcode that
// pops more items than the stack holds (BUILD after a single item, found by
// torchscript_mutation_test) corrupts the heap instead of failing. So every
// pickle is first run here on a model of the pickle machine that tracks only
// the shape of its stack and memo: the opcodes TorchScript's pickler writes
// (protocol 2, Python's pickletools names), each operand in bounds, each
// pop backed by items above the last MARK, each memo read of an index
// already written, and STOP with exactly one item.

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace cohort::ml::internal {

// OK if `pickle` is well formed in the sense above; INVALID_ARGUMENT naming
// the opcode and byte offset of the first fault otherwise.
absl::Status CheckPickleStructure(absl::string_view pickle);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_PICKLE_CHECK_H_
