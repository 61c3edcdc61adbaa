// Table and JSON output of `cohortctl model optimize`.

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/cohortctl/model_optimize.h"

namespace cohort::tools {
namespace {

using base::LatencyReport;

const VariantReport* Find(const std::vector<VariantReport>& reports,
                          const std::string& variant) {
  for (const VariantReport& r : reports) {
    if (r.variant == variant) return &r;
  }
  return nullptr;
}

std::string LatencyJson(const LatencyReport& l) {
  return absl::StrFormat(
      "\"latency_ms_p50_b1\": %.4f, \"latency_ms_p95_b1\": %.4f, "
      "\"latency_ms_p50_b32\": %.4f, \"latency_ms_p95_b32\": %.4f, "
      "\"peak_rss_mib\": %.1f",
      l.p50_b1_ms, l.p95_b1_ms, l.p50_b32_ms, l.p95_b32_ms, l.peak_rss_mib);
}

}  // namespace

std::string FormatTable(const std::vector<VariantReport>& reports) {
  std::string out = absl::StrFormat(
      "%-12s %-8s %10s %8s %9s %9s %10s %10s %9s %9s\n", "variant", "engine",
      "size_B", "params", "p50_b1ms", "p95_b1ms", "p50_b32ms", "p95_b32ms",
      "peak_MiB", "accuracy");
  for (const VariantReport& r : reports) {
    absl::StrAppend(
        &out,
        absl::StrFormat("%-12s %-8s %10d %8d %9.3f %9.3f %10.3f %10.3f "
                        "%9.1f %9.4f\n",
                        r.variant, r.engine, r.size_bytes, r.num_parameters,
                        r.latency.p50_b1_ms, r.latency.p95_b1_ms,
                        r.latency.p50_b32_ms, r.latency.p95_b32_ms,
                        r.latency.peak_rss_mib, r.test_accuracy));
  }
  const VariantReport* fp32 = Find(reports, "fp32");
  const VariantReport* ptq = Find(reports, "ptq_int8");
  if (fp32 != nullptr && ptq != nullptr) {
    absl::StrAppend(&out, absl::StrFormat(
                              "\nint8 artifact is %.2fx smaller than fp32\n",
                              static_cast<double>(fp32->size_bytes) /
                                  static_cast<double>(ptq->size_bytes)));
    for (const EngineLatency& e : ptq->per_engine) {
      absl::StrAppend(
          &out,
          absl::StrFormat("ptq_int8 on %-7s: fp32/int8 latency %.2fx at "
                          "batch 1, %.2fx at batch 32\n",
                          e.engine, fp32->latency.p50_b1_ms / e.latency.p50_b1_ms,
                          fp32->latency.p50_b32_ms / e.latency.p50_b32_ms));
    }
  }
  const VariantReport* distilled = Find(reports, "distilled");
  if (distilled != nullptr && distilled->student_alone_accuracy) {
    absl::StrAppend(
        &out, absl::StrFormat("distilled student %.4f vs the same student "
                              "trained alone %.4f\n",
                              distilled->test_accuracy,
                              *distilled->student_alone_accuracy));
  }
  return out;
}

std::string FormatJson(const std::vector<VariantReport>& reports) {
  std::string out = "[\n";
  for (size_t i = 0; i < reports.size(); ++i) {
    const VariantReport& r = reports[i];
    absl::StrAppend(
        &out,
        absl::StrFormat("  {\"variant\": \"%s\", \"engine\": \"%s\", "
                        "\"size_bytes\": %d, \"num_parameters\": %d, %s, "
                        "\"test_accuracy\": %.4f",
                        r.variant, r.engine, r.size_bytes, r.num_parameters,
                        LatencyJson(r.latency), r.test_accuracy));
    if (r.student_alone_accuracy) {
      absl::StrAppend(&out,
                      absl::StrFormat(", \"student_alone_accuracy\": %.4f",
                                      *r.student_alone_accuracy));
    }
    if (!r.per_engine.empty()) {
      absl::StrAppend(&out, ", \"per_engine\": [");
      for (size_t j = 0; j < r.per_engine.size(); ++j) {
        absl::StrAppend(&out, j == 0 ? "" : ", ", "{\"engine\": \"",
                        r.per_engine[j].engine, "\", ",
                        LatencyJson(r.per_engine[j].latency), "}");
      }
      absl::StrAppend(&out, "]");
    }
    absl::StrAppend(&out, i + 1 < reports.size() ? "},\n" : "}\n");
  }
  absl::StrAppend(&out, "]\n");
  return out;
}

}  // namespace cohort::tools
