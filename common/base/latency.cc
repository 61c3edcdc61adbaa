#include "common/base/latency.h"

#include <algorithm>
#include <chrono>

#include "common/base/peak_rss.h"
#include "common/base/percentile.h"

namespace cohort::base {
namespace {

absl::Status CheckPlan(const TimingPlan& p) {
  if (p.batch < 1 || p.num_examples < p.batch || p.rounds < 1 ||
      p.runs_per_block < 1 || p.warmup_per_block < 0) {
    return absl::InvalidArgumentError(
        "timing plan: need batch >= 1, num_examples >= batch, rounds >= 1, "
        "runs_per_block >= 1 and warmup_per_block >= 0");
  }
  return absl::OkStatus();
}

// One block of calls of `fn`, walking the examples from *start.
absl::Status TimeBlock(const InferenceFn& fn, const TimingPlan& plan,
                       int64_t* start, std::vector<double>* samples) {
  for (int i = 0; i < plan.warmup_per_block + plan.runs_per_block; ++i) {
    if (*start + plan.batch > plan.num_examples) *start = 0;
    const auto t0 = std::chrono::steady_clock::now();
    if (absl::Status s = fn(*start, plan.batch); !s.ok()) return s;
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= plan.warmup_per_block) {
      samples->push_back(
          std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    *start += plan.batch;
  }
  return absl::OkStatus();
}

// Peak RSS of a short run of each function alone.
absl::StatusOr<std::vector<double>> PeakRssOfEach(
    const std::vector<InferenceFn>& fns, int64_t num_examples) {
  std::vector<double> peaks;
  for (const InferenceFn& fn : fns) {
    ResetPeakRss();
    for (int i = 0; i < 10; ++i) {
      for (int64_t batch : {int64_t{1}, int64_t{32}}) {
        if (absl::Status s = fn(0, std::min(batch, num_examples)); !s.ok()) {
          return s;
        }
      }
    }
    peaks.push_back(PeakRssMib());
  }
  return peaks;
}

// A plan of `runs` recorded calls at `batch` over six rounds.
TimingPlan SixRounds(int64_t batch, int warmup, int runs,
                     int64_t num_examples) {
  TimingPlan plan;
  plan.batch = std::min(batch, num_examples);
  plan.rounds = 6;
  plan.warmup_per_block = std::max(2, warmup / plan.rounds);
  plan.runs_per_block = std::max(1, (runs + plan.rounds - 1) / plan.rounds);
  plan.num_examples = num_examples;
  return plan;
}

}  // namespace

absl::StatusOr<std::vector<std::vector<double>>> TimeInterleaved(
    const std::vector<InferenceFn>& fns, const TimingPlan& plan) {
  if (absl::Status s = CheckPlan(plan); !s.ok()) return s;
  std::vector<std::vector<double>> samples(fns.size());
  int64_t start = 0;
  for (int round = 0; round < plan.rounds; ++round) {
    for (size_t f = 0; f < fns.size(); ++f) {
      if (absl::Status s = TimeBlock(fns[f], plan, &start, &samples[f]);
          !s.ok()) {
        return s;
      }
    }
  }
  return samples;
}

absl::StatusOr<std::vector<LatencyReport>> MeasureLatencies(
    const std::vector<InferenceFn>& fns, const LatencyOptions& options) {
  auto peaks = PeakRssOfEach(fns, options.num_examples);
  if (!peaks.ok()) return peaks.status();
  auto b1 = TimeInterleaved(fns, SixRounds(1, options.warmup,
                                           options.runs_batch1,
                                           options.num_examples));
  if (!b1.ok()) return b1.status();
  auto b32 = TimeInterleaved(fns, SixRounds(32, options.warmup / 4 + 1,
                                            options.runs_batch32,
                                            options.num_examples));
  if (!b32.ok()) return b32.status();
  std::vector<LatencyReport> reports(fns.size());
  for (size_t f = 0; f < fns.size(); ++f) {
    reports[f].peak_rss_mib = (*peaks)[f];
    reports[f].p50_b1_ms = Percentile((*b1)[f], 0.50);
    reports[f].p95_b1_ms = Percentile((*b1)[f], 0.95);
    reports[f].p50_b32_ms = Percentile((*b32)[f], 0.50);
    reports[f].p95_b32_ms = Percentile((*b32)[f], 0.95);
  }
  return reports;
}

}  // namespace cohort::base
