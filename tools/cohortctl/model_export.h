#ifndef COHORT_TOOLS_COHORTCTL_MODEL_EXPORT_H_
#define COHORT_TOOLS_COHORTCTL_MODEL_EXPORT_H_

// `cohortctl model export`: a Cohort model file as a module that other
// runtimes load.

#include <string>

#include "absl/status/statusor.h"

namespace cohort::tools {

struct ExportOptions {
  // The model's architecture: a zoo name, unless `torchscript` names the
  // module the task imported (its chain is the architecture).
  std::string arch = "small_cnn";
  std::string torchscript;
  // A serialized Weights message: a version's fp32 weights or its int8
  // artifact (a run folder's model.pb), dequantized as devices do.
  std::string weights_path;
  // "torchscript" (PyTorch and LibTorch applications) or "onnx" (ONNX
  // Runtime, TVM and other ONNX runtimes; opset 13).
  std::string format = "torchscript";
  // "fp32", or "int8" (ONNX only): the quantize/dequantize form with the
  // int8 artifact's weights and activation ranges calibrated on the first
  // 1,000 training images of `data_dir`, as Int8Model does.
  std::string precision = "fp32";
  std::string data_dir;
  // A release's SignedManifest (the admin API's GetManifest answer) and the
  // root of trust devices pin (SignedRoot). With them the manifest is
  // verified, the architecture is the manifest's, the weights must be one
  // of the release's artifacts, and an fp32 ONNX export (made from the
  // release's fp32 weights) must match the "onnx" digest the release
  // signed. Both or neither.
  std::string manifest_path;
  std::string root_path;
  // The file to write.
  std::string out;
};

// Reads, checks and writes; returns what it did, for the operator.
// INVALID_ARGUMENT for an unknown format, precision (or int8 TorchScript)
// or architecture, a missing --weights or --out, or weights that do not parse
// or do not fit the architecture; NOT_FOUND / RESOURCE_EXHAUSTED for an
// unreadable or oversized (over 1 GiB) file or calibration data; INTERNAL if
// the file cannot be written. With a manifest: its verification errors
// (ReadVerifiedManifest), FAILED_PRECONDITION for weights that are not the
// release's (or its int8 artifact for the signed fp32 ONNX export), NOT_FOUND for a release that lists no ONNX digest and
// DATA_LOSS for an export that differs from it (nothing is written then).
absl::StatusOr<std::string> RunModelExport(const ExportOptions& options);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_MODEL_EXPORT_H_
