#ifndef COHORT_COMMON_ML_TORCHSCRIPT_LOAD_H_
#define COHORT_COMMON_ML_TORCHSCRIPT_LOAD_H_

// Internal to common/ml: loads a TorchScript file that nobody vouches for.
//
// LibTorch 1.13's loader trusts the file in two ways that let a bad one
// corrupt memory instead of failing; torchscript_mutation_test found both:
// - Its unpickler trusts the stack a pickle builds: BUILD after a single
//   item corrupts the heap. Every pickle in the archive is first checked
//   by CheckPickleStructure (pickle_check.h).
// - It sizes each tensor storage by the element count the pickle states,
//   over a buffer as long as the storage's record in the zip, and never
//   compares the two: a record cut short loads, and the module's forward
//   reads past the buffer. LibTorch reads each stored record straight into
//   the buffer the storage keeps, so the file is read through a reader
//   that remembers the length of every read, and every tensor is checked
//   against the bytes its storage really got.
// - Its TorchScript compiler crashed on a module whose code had a changed
//   class constant. That kind cannot be checked for beforehand, so the file
//   is loaded once in a child process first; a crash there is a refusal.

#include <torch/csrc/jit/api/module.h>

#include <string>

#include "absl/status/statusor.h"

namespace cohort::ml::internal {

// The module in the TorchScript file at `path`. INVALID_ARGUMENT "<path> is
// not a loadable TorchScript module: <reason>" if LibTorch refuses it, a
// pickle in it is malformed, or a tensor (parameter, buffer or tensor
// attribute of any submodule, or a tensor constant in any method's graph)
// reaches past the data the file holds for it, has a negative stride, or
// comes from a compressed record (which torch.jit.save never writes), or
// if loading it crashes LibTorch or keeps it busy over two minutes (in the
// child process, base::TryInChildProcess). INTERNAL if no child process
// can be started.
absl::StatusOr<torch::jit::Module> LoadUntrustedModule(const std::string& path);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_TORCHSCRIPT_LOAD_H_
