#include "common/base/latency.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace cohort::base {
namespace {

// Records every call, so the schedule TimeInterleaved follows can be checked.
struct Recorder {
  std::vector<std::pair<int, int64_t>> calls;  // (function, start)
  InferenceFn Fn(int id, int64_t expected_count) {
    return [this, id, expected_count](int64_t start, int64_t count) {
      calls.push_back({id, start});
      return count == expected_count
                 ? absl::OkStatus()
                 : absl::InvalidArgumentError("unexpected batch size");
    };
  }
};

TEST(TimeInterleavedTest, TakesTurnsInBlocksAndRecordsOnlyTimedCalls) {
  Recorder r;
  TimingPlan plan;
  plan.batch = 2;
  plan.rounds = 3;
  plan.warmup_per_block = 1;
  plan.runs_per_block = 2;
  plan.num_examples = 5;
  auto samples = TimeInterleaved({r.Fn(0, 2), r.Fn(1, 2)}, plan);
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[0].size(), 6u);  // 3 rounds x 2 timed calls
  EXPECT_EQ((*samples)[1].size(), 6u);
  for (const auto& s : *samples) {
    for (double ms : s) EXPECT_GE(ms, 0.0);
  }
  // 3 calls per block, blocks alternate 0,1,0,1,0,1.
  ASSERT_EQ(r.calls.size(), 18u);
  for (size_t i = 0; i < r.calls.size(); ++i) {
    EXPECT_EQ(r.calls[i].first, static_cast<int>((i / 3) % 2)) << i;
    // Batches of 2 walk 0, 2, then start over (4 + 2 > 5).
    EXPECT_EQ(r.calls[i].second, static_cast<int64_t>((i % 2) * 2)) << i;
  }
}

TEST(TimeInterleavedTest, ReturnsTheFirstErrorAndStops) {
  int calls = 0;
  InferenceFn failing = [&calls](int64_t, int64_t) {
    ++calls;
    return absl::InternalError("boom");
  };
  TimingPlan plan;
  plan.num_examples = 10;
  auto samples = TimeInterleaved({failing}, plan);
  EXPECT_EQ(samples.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(calls, 1);
}

TEST(TimeInterleavedTest, RefusesAPlanThatCannotRun) {
  Recorder r;
  TimingPlan plan;
  plan.batch = 8;
  plan.num_examples = 4;  // fewer examples than one batch
  EXPECT_EQ(TimeInterleaved({r.Fn(0, 8)}, plan).status().code(),
            absl::StatusCode::kInvalidArgument);
  plan.num_examples = 8;
  plan.runs_per_block = 0;
  EXPECT_EQ(TimeInterleaved({r.Fn(0, 8)}, plan).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.calls.empty());
}

TEST(MeasureLatenciesTest, CapsBatchesAtTheExamplesAvailable) {
  std::vector<int64_t> counts;
  InferenceFn fn = [&counts](int64_t start, int64_t count) {
    counts.push_back(count);
    return start + count <= 5 ? absl::OkStatus()
                              : absl::OutOfRangeError("past the data");
  };
  LatencyOptions options;
  options.warmup = 0;
  options.runs_batch1 = 6;
  options.runs_batch32 = 6;
  options.num_examples = 5;
  auto reports = MeasureLatencies({fn}, options);
  ASSERT_TRUE(reports.ok()) << reports.status();
  ASSERT_EQ(reports->size(), 1u);
  const LatencyReport& l = reports->front();
  EXPECT_GE(l.p95_b1_ms, l.p50_b1_ms);
  EXPECT_GE(l.p95_b32_ms, l.p50_b32_ms);
  EXPECT_GT(l.p50_b1_ms, 0.0);
  for (int64_t c : counts) EXPECT_TRUE(c == 1 || c == 5) << c;
}

}  // namespace
}  // namespace cohort::base
