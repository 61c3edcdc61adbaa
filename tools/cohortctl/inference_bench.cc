#include "tools/cohortctl/inference_bench.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "common/base/peak_rss.h"
#include "common/base/percentile.h"

namespace cohort::tools {
namespace {

using base::Percentile;

// Timing in interleaved blocks: each round runs every function for a block
// of calls (the first few untimed), so each call finds its own weights in
// cache, as on a device running one model, while slow spells of a shared
// machine spread over all functions alike. samples[f] gets `runs` times.
absl::StatusOr<std::vector<std::vector<double>>> TimeAll(
    const std::vector<InferenceFn>& fns, int64_t batch, int warmup, int runs,
    int64_t num_examples) {
  constexpr int kRounds = 6;
  const int per_round = (runs + kRounds - 1) / kRounds;
  const int block_warmup = std::max(2, warmup / kRounds);
  std::vector<std::vector<double>> samples(fns.size());
  int64_t start = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t f = 0; f < fns.size(); ++f) {
      for (int i = 0; i < block_warmup + per_round; ++i) {
        if (start + batch > num_examples) start = 0;
        const auto t0 = std::chrono::steady_clock::now();
        if (absl::Status s = fns[f](start, batch); !s.ok()) return s;
        const auto t1 = std::chrono::steady_clock::now();
        if (i >= block_warmup && static_cast<int>(samples[f].size()) < runs) {
          samples[f].push_back(
              std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
        start += batch;
      }
    }
  }
  return samples;
}

}  // namespace


absl::StatusOr<std::vector<LatencyReport>> MeasureLatencies(
    const std::vector<InferenceFn>& fns, const LatencyOptions& options) {
  std::vector<LatencyReport> reports(fns.size());
  for (size_t f = 0; f < fns.size(); ++f) {
    base::ResetPeakRss();
    for (int i = 0; i < 10; ++i) {
      for (int64_t batch : {int64_t{1}, int64_t{32}}) {
        if (absl::Status s = fns[f](0, std::min(batch, options.num_examples));
            !s.ok()) {
          return s;
        }
      }
    }
    reports[f].peak_rss_mib = base::PeakRssMib();
  }
  auto b1 = TimeAll(fns, 1, options.warmup, options.runs_batch1,
                    options.num_examples);
  if (!b1.ok()) return b1.status();
  auto b32 = TimeAll(fns, 32, options.warmup / 4 + 1, options.runs_batch32,
                     options.num_examples);
  if (!b32.ok()) return b32.status();
  for (size_t f = 0; f < fns.size(); ++f) {
    reports[f].p50_b1_ms = Percentile((*b1)[f], 0.50);
    reports[f].p95_b1_ms = Percentile((*b1)[f], 0.95);
    reports[f].p50_b32_ms = Percentile((*b32)[f], 0.50);
    reports[f].p95_b32_ms = Percentile((*b32)[f], 0.95);
  }
  return reports;
}

}  // namespace cohort::tools
