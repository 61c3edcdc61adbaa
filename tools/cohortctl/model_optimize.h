#ifndef COHORT_TOOLS_COHORTCTL_MODEL_OPTIMIZE_H_
#define COHORT_TOOLS_COHORTCTL_MODEL_OPTIMIZE_H_

// `cohortctl model optimize`: trains (or imports) an fp32 model, derives the
// edge variants from it and measures each one on this machine.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data/idx_reader.h"
#include "common/base/latency.h"

namespace cohort::tools {

struct OptimizeOptions {
  // Zoo architecture of the fp32 model, unless `torchscript` names a module.
  std::string arch = "small_cnn";
  std::string torchscript;
  // Where artifacts (<variant>.weights.pb) and the reports are written.
  std::string out_dir;
  std::string data_dir = data::kDefaultFashionMnistDir;
  // 0 means the whole split.
  int64_t train_examples = 0;
  int64_t test_examples = 0;
  int epochs = 3;
  int qat_epochs = 1;
  double prune_fraction = 0.5;
  int prune_finetune_epochs = 2;
  std::string student_arch = "tiny_cnn";
  int distill_epochs = 3;
  int64_t calibration_examples = 1000;
  // Training uses train_threads; latency is measured with bench_threads
  // (1 by default: an edge device's single inference thread).
  int train_threads = 2;
  int bench_threads = 1;
  uint64_t seed = 1;
  base::LatencyOptions latency;
};

// One engine's figures for an int8 variant.
struct EngineLatency {
  std::string engine;
  base::LatencyReport latency;
};

struct VariantReport {
  std::string variant;  // fp32, ptq_int8, qat_int8, pruned, pruned_int8, distilled
  std::string engine;   // "fp32" or the quantized engine used
  int64_t size_bytes = 0;
  int64_t num_parameters = 0;
  double test_accuracy = 0.0;
  base::LatencyReport latency;
  // int8 variants measured on every available engine (ptq_int8 only).
  std::vector<EngineLatency> per_engine;
  // distilled: the same student architecture trained alone on labels.
  std::optional<double> student_alone_accuracy;
};

// Runs the whole pipeline, logging progress to stderr. NOT_FOUND or
// INVALID_ARGUMENT for missing data or a refused TorchScript module, and any
// error of the steps.
absl::StatusOr<std::vector<VariantReport>> RunModelOptimize(
    const OptimizeOptions& options);

// A fixed-width table, one row per variant, plus the int8/fp32 ratios.
std::string FormatTable(const std::vector<VariantReport>& reports);
// A JSON list of objects: variant, engine, size_bytes, latency_ms_p50_b1,
// latency_ms_p95_b1, latency_ms_p50_b32, latency_ms_p95_b32, peak_rss_mib,
// test_accuracy, num_parameters, plus per_engine and student_alone_accuracy
// where they apply.
std::string FormatJson(const std::vector<VariantReport>& reports);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_MODEL_OPTIMIZE_H_
