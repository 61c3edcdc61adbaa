#ifndef COHORT_TOOLS_COHORTCTL_INFERENCE_BENCH_H_
#define COHORT_TOOLS_COHORTCTL_INFERENCE_BENCH_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::tools {

// Runs inference on examples [start, start + count) of a fixed data set.
using InferenceFn = std::function<absl::Status(int64_t start, int64_t count)>;

struct LatencyOptions {
  int warmup = 20;
  int runs_batch1 = 300;
  int runs_batch32 = 60;
  // Examples available to walk through (runs cycle over them).
  int64_t num_examples = 1000;
};

struct LatencyReport {
  double p50_b1_ms = 0.0;
  double p95_b1_ms = 0.0;
  double p50_b32_ms = 0.0;
  double p95_b32_ms = 0.0;
  // Peak resident set of the whole process while this measurement ran
  // (VmHWM after resetting it through /proc/self/clear_refs), or the
  // process-lifetime peak if the kernel refuses the reset.
  double peak_rss_mib = 0.0;
};

// Wall-clock latency per call of each of `fns` at batch 1 and 32
// (percentiles of single calls, after warm-up). The functions take turns in
// blocks of calls over six rounds, so background load on a shared machine
// hits every variant alike while each block runs with a warm cache. Peak
// RSS is taken per function in a separate short run. Returns the first error
// a function reports.
absl::StatusOr<std::vector<LatencyReport>> MeasureLatencies(
    const std::vector<InferenceFn>& fns, const LatencyOptions& options);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_INFERENCE_BENCH_H_
