#ifndef COHORT_COMMON_BASE_LATENCY_H_
#define COHORT_COMMON_BASE_LATENCY_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::base {

// The one latency helper: `cohort-agent profile`, `cohortctl optimize` and
// the int8 engine choice (ml::Int8Model::Create) all time inference with it.

// Runs inference on examples [start, start + count) of a fixed data set.
using InferenceFn = std::function<absl::Status(int64_t start, int64_t count)>;

// How TimeInterleaved takes its samples.
struct TimingPlan {
  int64_t batch = 1;
  // Each round runs every function for one block of
  // warmup_per_block + runs_per_block calls; only the last runs_per_block
  // are recorded.
  int rounds = 6;
  int warmup_per_block = 2;
  int runs_per_block = 50;
  // Examples [0, num_examples) the calls walk through, batch by batch,
  // starting over at 0 (>= batch).
  int64_t num_examples = 1;
};

// Wall-clock milliseconds of single calls: samples[f] holds
// rounds * runs_per_block times of fns[f]. The functions take turns in
// blocks, so each block runs with a warm cache (as a device running one
// model does) while slow spells of a shared machine hit every function
// alike. Returns the first error a function reports; INVALID_ARGUMENT for a
// plan with batch < 1, num_examples < batch, rounds or runs_per_block < 1,
// or warmup_per_block < 0.
absl::StatusOr<std::vector<std::vector<double>>> TimeInterleaved(
    const std::vector<InferenceFn>& fns, const TimingPlan& plan);

struct LatencyOptions {
  int warmup = 20;
  int runs_batch1 = 300;
  int runs_batch32 = 60;
  // Examples available to walk through (runs cycle over them); a batch is
  // capped at this many examples.
  int64_t num_examples = 1000;
};

struct LatencyReport {
  double p50_b1_ms = 0.0;
  double p95_b1_ms = 0.0;
  double p50_b32_ms = 0.0;
  double p95_b32_ms = 0.0;
  // Peak resident set of the whole process while this function ran alone
  // (VmHWM after ResetPeakRss), or the process-lifetime peak if the kernel
  // refuses the reset.
  double peak_rss_mib = 0.0;
};

// Latency per call of each of `fns` at batch 1 and 32 (p50 and p95 over
// single calls, TimeInterleaved in six rounds after warm-up), and each
// function's peak RSS from a separate short run. Returns the first error a
// function reports.
absl::StatusOr<std::vector<LatencyReport>> MeasureLatencies(
    const std::vector<InferenceFn>& fns, const LatencyOptions& options);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_LATENCY_H_
