// RoundOptions' learning fields: update clipping and the robust aggregators
// (RoundConfig.clipping, .aggregator, .robust).

#include "server/round/round_options_internal.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace cohort::server::internal {
namespace {

absl::Status ResolveAdaptiveClipping(const cohort::v1::AdaptiveClipping& a,
                                     ClippingOptions& o) {
  o.adaptive = true;
  COHORT_RETURN_IF_ERROR(Fraction("round.clipping.adaptive.target_quantile",
                                  a.target_quantile(), false,
                                  &o.target_quantile));
  COHORT_RETURN_IF_ERROR(Fraction("round.clipping.adaptive.learning_rate",
                                  a.learning_rate(), true, &o.learning_rate));
  if (a.min_clip_norm() != 0) o.min_clip_norm = a.min_clip_norm();
  if (a.max_clip_norm() != 0) o.max_clip_norm = a.max_clip_norm();
  if (!(o.min_clip_norm > 0 && o.min_clip_norm <= o.clip_norm)) {
    return Bad("round.clipping.adaptive.min_clip_norm",
               "must be in (0, clipping.clip_norm]");
  }
  if (!(o.max_clip_norm >= o.clip_norm && o.max_clip_norm <= 1e6)) {
    return Bad("round.clipping.adaptive.max_clip_norm",
               "must be in [clipping.clip_norm, 1e6]");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ResolveClipping(const cohort::v1::ClippingConfig& c,
                             RoundOptions& o) {
  if (c.clip_norm() != 0) {
    if (!(c.clip_norm() > 0 && c.clip_norm() <= 1e6)) {
      return Bad("round.clipping.clip_norm", "must be in (0, 1e6]");
    }
    o.clipping.clip_norm = c.clip_norm();
  }
  if (!(c.statistics_clip_norm() >= 0 && c.statistics_clip_norm() <= 1e6)) {
    return Bad("round.clipping.statistics_clip_norm",
               "must be in [0, 1e6] (0: 4 per statistic)");
  }
  o.clipping.statistics_clip_norm = c.statistics_clip_norm();
  if (!c.has_adaptive()) return absl::OkStatus();
  return ResolveAdaptiveClipping(c.adaptive(), o.clipping);
}

namespace {

// The Multi-Krum fields of RobustAggregationConfig.
absl::Status ResolveKrum(const cohort::v1::RobustAggregationConfig& r,
                         RoundOptions& o, RobustOptions& k) {
  k.byzantine_devices = r.has_byzantine_devices()
                            ? r.byzantine_devices()
                            : std::max(1, o.goal_count / 10);
  if (k.byzantine_devices < 0) {
    return Bad("round.robust.byzantine_devices", "must be >= 0");
  }
  // In int64: f can be near INT_MAX.
  const int64_t needed = 2 * int64_t{k.byzantine_devices} + 3;
  if (o.min_reports < needed) {
    return Bad("round.robust.byzantine_devices",
               absl::StrCat("is ", k.byzantine_devices,
                            ", but Multi-Krum needs every round to have at "
                            "least 2f + 3 = ",
                            needed,
                            " updates: raise round.min_reports (",
                            o.min_reports, ") or lower f"));
  }
  if (r.krum_selected() < 0 ||
      r.krum_selected() > o.min_reports - k.byzantine_devices) {
    return Bad("round.robust.krum_selected",
               absl::StrCat("must be in [1, min_reports - f] = [1, ",
                            o.min_reports - k.byzantine_devices,
                            "], or 0 for n - f"));
  }
  k.krum_selected = r.krum_selected();
  return absl::OkStatus();
}

}  // namespace

// RoundConfig.aggregator and .robust. Each robust field is refused with an
// aggregator that does not read it, and every robust aggregator with SecAgg+.
absl::Status ResolveAggregator(const cohort::v1::RoundConfig& c,
                               RoundOptions& o) {
  using Rule = RobustOptions::Rule;
  const cohort::v1::RobustAggregationConfig& r = c.robust();
  RobustOptions k;
  switch (c.aggregator()) {
    case cohort::v1::RoundConfig::AGGREGATOR_DEFAULT:
    case cohort::v1::RoundConfig::MEAN:
      if (c.has_robust()) {
        return Bad(r.trim_fraction() != 0       ? "round.robust.trim_fraction"
                   : r.has_byzantine_devices() ? "round.robust.byzantine_devices"
                   : r.krum_selected() != 0    ? "round.robust.krum_selected"
                                               : "round.robust",
                   "applies to a robust round.aggregator only");
      }
      return absl::OkStatus();
    case cohort::v1::RoundConfig::TRIMMED_MEAN: k.rule = Rule::kTrimmedMean; break;
    case cohort::v1::RoundConfig::MEDIAN: k.rule = Rule::kMedian; break;
    case cohort::v1::RoundConfig::MULTI_KRUM: k.rule = Rule::kMultiKrum; break;
    default:
      return Bad("round.aggregator", absl::StrCat("unknown value ", c.aggregator()));
  }
  if (o.secagg.enabled) {
    return Bad("round.aggregator",
               absl::StrCat(RuleName(k.rule),
                            " needs every update in the clear, and SecAgg+ "
                            "reveals only their sum: set "
                            "round.secure_aggregation { enabled: false }"));
  }
  if (k.rule != Rule::kTrimmedMean && r.trim_fraction() != 0) {
    return Bad("round.robust.trim_fraction", "applies to TRIMMED_MEAN only");
  }
  if (k.rule != Rule::kMultiKrum &&
      (r.has_byzantine_devices() || r.krum_selected() != 0)) {
    return Bad(r.has_byzantine_devices() ? "round.robust.byzantine_devices"
                                         : "round.robust.krum_selected",
               "applies to MULTI_KRUM only");
  }
  if (r.trim_fraction() != 0) {
    if (!(r.trim_fraction() > 0 && r.trim_fraction() < 0.5)) {
      return Bad("round.robust.trim_fraction", "must be in (0, 0.5)");
    }
    k.trim_fraction = r.trim_fraction();
  }
  if (k.rule == Rule::kTrimmedMean &&
      static_cast<int>(k.trim_fraction * o.min_reports) < 1) {
    return Bad("round.robust.trim_fraction",
               absl::StrCat("cuts floor(", k.trim_fraction, " * ",
                            o.min_reports,
                            ") = 0 values at each end of a round of "
                            "min_reports updates: raise it or min_reports"));
  }
  if (k.rule == Rule::kMultiKrum) COHORT_RETURN_IF_ERROR(ResolveKrum(r, o, k));
  o.robust = k;
  return absl::OkStatus();
}

}  // namespace cohort::server::internal
