#include "client/agent/profile.h"

#include <algorithm>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/latency.h"
#include "common/base/status_macros.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/model/quantize.h"

namespace cohort::client {

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
  const base::InferenceFn run = [&](int64_t start, int64_t count) {
    return (int8 ? int8->Logits(data, start, count)
                 : model->Logits(data, start, count))
        .status();
  };
  base::LatencyOptions latency;
  latency.runs_batch1 = options.runs_batch1;
  latency.runs_batch32 = options.runs_batch32;
  latency.num_examples = data.num_examples;
  COHORT_ASSIGN_OR_RETURN(std::vector<base::LatencyReport> measured,
                          base::MeasureLatencies({run}, latency));
  const base::LatencyReport& l = measured.front();
  report.p50_b1_ms = l.p50_b1_ms;
  report.p95_b1_ms = l.p95_b1_ms;
  report.p50_b32_ms = l.p50_b32_ms;
  report.p95_b32_ms = l.p95_b32_ms;
  report.peak_rss_mib = l.peak_rss_mib;
  COHORT_ASSIGN_OR_RETURN(
      report.operators, ml::ProfileOperators([&]() -> absl::Status {
        for (int r = 0; r < options.profiled_runs; ++r) {
          COHORT_RETURN_IF_ERROR(run(r % data.num_examples, 1));
        }
        return absl::OkStatus();
      }));
  // Per forward pass, so the table reads like the latency above.
  for (auto& op : report.operators) {
    op.self_ms /= options.profiled_runs;
    op.total_ms /= options.profiled_runs;
  }
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
