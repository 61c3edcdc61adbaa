#include "client/agent/profile.h"

#include <algorithm>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/base/peak_rss.h"
#include "common/base/percentile.h"
#include "common/base/status_macros.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/model/quantize.h"

namespace cohort::client {
namespace {

using base::Percentile;

// Times `runs` calls of logits(start, count), cycling over the data.
template <typename Fn>
absl::StatusOr<std::vector<double>> Time(Fn&& logits, int64_t n, int64_t batch,
                                         int runs) {
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(runs));
  for (int r = 0; r < runs; ++r) {
    const int64_t start = (static_cast<int64_t>(r) * batch) % std::max<int64_t>(1, n - batch + 1);
    const absl::Time t0 = absl::Now();
    auto out = logits(start, std::min(batch, n));
    if (!out.ok()) return out.status();
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  return ms;
}

}  // namespace

absl::StatusOr<ProfileReport> ProfileModel(const cohort::v1::Weights& weights,
                                           const std::string& architecture,
                                           const data::ImageDataset& data,
                                           const ProfileOptions& options) {
  if (data.num_examples < 1) {
    return absl::InvalidArgumentError("the device holds no examples to run");
  }
  ProfileReport report;
  report.architecture = architecture;
  report.examples = data.num_examples;
  report.int8 = model::IsQuantized(weights);
  cohort::v1::Weights fp32 = weights;
  if (report.int8) {
    COHORT_ASSIGN_OR_RETURN(fp32, model::DequantizeWeights(weights));
  }
  COHORT_ASSIGN_OR_RETURN(auto model, ml::Model::Create(architecture, 1));
  COHORT_RETURN_IF_ERROR(model->SetWeights(fp32));
  std::unique_ptr<ml::Int8Model> int8;
  if (report.int8) {
    COHORT_ASSIGN_OR_RETURN(int8, ml::Int8Model::Create(*model, data));
    report.engine = ml::QEngineName(int8->engine());
  } else {
    report.engine = "fp32";
  }
  auto logits = [&](int64_t start, int64_t count) {
    return int8 ? int8->Logits(data, start, count)
                : model->Logits(data, start, count);
  };
  const int64_t n = data.num_examples;
  COHORT_ASSIGN_OR_RETURN(auto b1, Time(logits, n, 1, options.runs_batch1));
  COHORT_ASSIGN_OR_RETURN(auto b32, Time(logits, n, 32, options.runs_batch32));
  report.p50_b1_ms = Percentile(b1, 0.50);
  report.p95_b1_ms = Percentile(b1, 0.95);
  report.p50_b32_ms = Percentile(b32, 0.50);
  report.p95_b32_ms = Percentile(b32, 0.95);
  COHORT_ASSIGN_OR_RETURN(
      report.operators, ml::ProfileOperators([&]() -> absl::Status {
        return Time(logits, n, 1, options.profiled_runs).status();
      }));
  // Per forward pass, so the table reads like the latency above.
  for (auto& op : report.operators) {
    op.self_ms /= options.profiled_runs;
    op.total_ms /= options.profiled_runs;
  }
  report.peak_rss_mib = base::PeakRssMib();
  return report;
}

std::string FormatProfile(const ProfileReport& r, bool json) {
  if (json) {
    std::string ops;
    for (const auto& op : r.operators) {
      absl::StrAppend(&ops, ops.empty() ? "" : ", ",
                      absl::StrFormat("{\"name\": \"%s\", \"calls\": %d, "
                                      "\"self_ms\": %.4f, \"total_ms\": %.4f}",
                                      op.name, op.calls, op.self_ms, op.total_ms));
    }
    return absl::StrFormat(
        "{\"architecture\": \"%s\", \"int8\": %s, \"engine\": \"%s\", "
        "\"latency_ms_p50_b1\": %.4f, \"latency_ms_p95_b1\": %.4f, "
        "\"latency_ms_p50_b32\": %.4f, \"latency_ms_p95_b32\": %.4f, "
        "\"peak_rss_mib\": %.1f, \"operators\": [%s]}\n",
        r.architecture, r.int8 ? "true" : "false", r.engine, r.p50_b1_ms,
        r.p95_b1_ms, r.p50_b32_ms, r.p95_b32_ms, r.peak_rss_mib, ops);
  }
  std::string out = absl::StrFormat(
      "model       %s (%s, engine %s), %d local examples\n"
      "latency     batch 1: p50 %.3f ms, p95 %.3f ms; batch 32: p50 %.3f ms, "
      "p95 %.3f ms\n"
      "peak RSS    %.1f MiB\n"
      "per forward pass at batch 1 (self time, most first):\n",
      r.architecture, r.int8 ? "int8" : "fp32", r.engine, r.examples,
      r.p50_b1_ms, r.p95_b1_ms, r.p50_b32_ms, r.p95_b32_ms, r.peak_rss_mib);
  for (const auto& op : r.operators) {
    absl::StrAppend(&out, absl::StrFormat("  %-36s %9.4f ms self %9.4f ms total\n",
                                          op.name, op.self_ms, op.total_ms));
  }
  return out;
}

}  // namespace cohort::client
