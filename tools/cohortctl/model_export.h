#ifndef COHORT_TOOLS_COHORTCTL_MODEL_EXPORT_H_
#define COHORT_TOOLS_COHORTCTL_MODEL_EXPORT_H_

// `cohortctl model export`: a Cohort model file as a module that other
// runtimes load.

#include <string>

#include "absl/status/status.h"

namespace cohort::tools {

struct ExportOptions {
  // The model's architecture: a zoo name, unless `torchscript` names the
  // module the task imported (its chain is the architecture).
  std::string arch = "small_cnn";
  std::string torchscript;
  // A serialized Weights message: a version's fp32 weights or its int8
  // artifact (a run folder's model.pb), dequantized as devices do.
  std::string weights_path;
  // "torchscript" (PyTorch and LibTorch applications).
  std::string format = "torchscript";
  // The file to write.
  std::string out;
};

// Reads, checks and writes. INVALID_ARGUMENT for an unknown format or
// architecture, a missing --weights or --out, or weights that do not parse
// or do not fit the architecture; NOT_FOUND / RESOURCE_EXHAUSTED for an
// unreadable or oversized (over 1 GiB) file; INTERNAL if LibTorch cannot
// write the module.
absl::Status RunModelExport(const ExportOptions& options);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_MODEL_EXPORT_H_
