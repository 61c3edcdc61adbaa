// Plain FedAvg aggregation against memcpy (issue 17, item 5:
// aggregate_vs_memcpy). One run measures, on the same buffers:
//   memcpy      copying a delta's bytes into another buffer, in as many
//               slices on as many threads as the aggregation uses;
//   aggregate   FedAvgAggregator::Accumulate of one delta of that many
//               bytes (it also reads and writes the 8-byte running sum of
//               each coordinate), on 1 thread and on every core;
// each the best of --reps after a warm-up, as delta bytes per second. The
// ratio is aggregate / memcpy at the same thread count; the headline uses
// every core. Prints one JSON
// object (bench/limits puts it in docs/bench/scale.json).
//
//   aggregation_bench [--floats=16777216] [--reps=7]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/logging.h"
#include "common/base/parallel_for.h"
#include "common/model/weights_util.h"
#include "server/aggregation/fedavg_aggregator.h"

ABSL_FLAG(int64_t, floats, int64_t{1} << 24,
          "Coordinates of the model (in 8 tensors); 2^24 floats = 64 MiB.");
ABSL_FLAG(int, reps, 7, "Timed repetitions; the best counts.");

namespace cohort::server {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

cohort::v1::Weights Model(int64_t floats, float value) {
  cohort::v1::Weights w;
  const int64_t per = floats / 8;
  for (int t = 0; t < 8; ++t) {
    auto* tensor = w.add_tensors();
    tensor->set_name(absl::StrCat("t", t));
    const int64_t n = t < 7 ? per : floats - 7 * per;
    tensor->add_shape(n);
    std::vector<float> values(n);
    for (int64_t j = 0; j < n; ++j) values[j] = value * static_cast<float>(j % 97);
    model::SetFloatData(values, tensor);
  }
  return w;
}

// Best bytes per second of `run` over `reps` timed calls after one warm-up.
template <typename F>
double BestRate(double bytes, int reps, F run) {
  run();
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    run();
    best = std::min(best, Seconds(t0));
  }
  return bytes / best;
}

int Main() {
  const int64_t floats = absl::GetFlag(FLAGS_floats);
  const int reps = absl::GetFlag(FLAGS_reps);
  const double bytes = 4.0 * static_cast<double>(floats);
  const cohort::v1::Weights model = Model(floats, 0);
  const cohort::v1::Weights delta = Model(floats, 0.001f);
  std::vector<char> src(static_cast<size_t>(bytes), 1), dst(src.size(), 0);
  std::string runs;
  double headline = 0;
  const int cores = base::AvailableCores();
  for (int threads : {1, cores}) {
    const size_t slice = (src.size() + threads - 1) / threads;
    const double memcpy_rate = BestRate(bytes, reps, [&] {
      base::ParallelFor(threads, threads, [&](int i) {
        const size_t lo = i * slice, n = std::min(slice, src.size() - lo);
        std::memcpy(dst.data() + lo, src.data() + lo, n);
      });
    });
    FedAvgAggregator agg(model, threads);
    const double rate = BestRate(bytes, reps, [&] {
      CHECK(agg.Accumulate(delta, 10).ok());
    });
    headline = rate / memcpy_rate;
    std::fprintf(stderr,
                 "aggregate %lld floats on %d threads: %.3g B/s = %.3fx memcpy "
                 "(%.3g B/s)\n",
                 static_cast<long long>(floats), threads, rate, headline, memcpy_rate);
    absl::StrAppend(
        &runs, runs.empty() ? "" : ", ",
        absl::StrFormat("\"%d\": {\"bytes_per_s\": %.4g, \"memcpy_bytes_per_s\": "
                        "%.4g, \"ratio\": %.4f}",
                        threads, rate, memcpy_rate, headline));
  }
  std::printf(
      "{\"ratio\": %.4f, \"goal\": 0.5, \"floats\": %lld, \"delta_bytes\": %.0f, "
      "\"by_threads\": {%s}, \"method\": "
      "\"FedAvgAggregator::Accumulate of one fp32 delta (8 tensors) into the "
      "double running sum, against memcpy of the delta's bytes in slices on "
      "the same number of threads; best of %d after a warm-up, same process "
      "and buffers\"}\n",
      headline, static_cast<long long>(floats), bytes, runs.c_str(), reps);
  return 0;
}

}  // namespace
}  // namespace cohort::server

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  cohort::base::InitLogging(argv[0]);
  return cohort::server::Main();
}
