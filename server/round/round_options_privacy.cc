// RoundOptions' differential privacy (RoundConfig.differential_privacy).

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/privacy/rdp_accountant.h"
#include "google/protobuf/descriptor.h"
#include "server/round/round_options_internal.h"

namespace cohort::server::internal {
namespace {

using Dp = cohort::v1::DifferentialPrivacyConfig;

bool InRange(double v, double lo, double hi) { return v >= lo && v <= hi; }

// The settings differential privacy cannot account for.
absl::Status CheckCompatible(const cohort::v1::RoundConfig& c,
                             const RoundOptions& o) {
  if (o.robust.has_value()) {
    return Bad("round.aggregator",
               "robust aggregators are not differentially private here: "
               "the noise is calibrated to a sum of clipped updates");
  }
  if (o.field_min_reports > 0) {
    return Bad("round.field_monitor.min_reports",
               "field evaluations are released without noise, so "
               "differential privacy cannot account for them");
  }
  if (c.secure_aggregation().example_cap() != 0) {
    return Bad("round.secure_aggregation.example_cap",
               "under differential privacy every device weighs 1");
  }
  return absl::OkStatus();
}

// noise_multiplier and target_epsilon into p, for `rounds` planned rounds.
absl::Status ResolveNoise(const Dp& d, int64_t rounds, CentralDpOptions& p) {
  if (!InRange(d.noise_multiplier(), 0, 1e3)) {
    return Bad("round.differential_privacy.noise_multiplier",
               "must be in (0, 1e3]");
  }
  if (!InRange(d.target_epsilon(), 0, 1e3)) {
    return Bad("round.differential_privacy.target_epsilon",
               "must be in (0, 1e3]");
  }
  if (d.target_epsilon() > 0) p.target_epsilon = d.target_epsilon();
  p.noise_multiplier = d.noise_multiplier();
  if (p.noise_multiplier == 0) {
    if (!p.target_epsilon.has_value()) {
      return Bad("round.differential_privacy.noise_multiplier",
                 "set it, or target_epsilon to derive it (needed with "
                 "round.differential_privacy.mechanism)");
    }
    if (rounds < 1) {
      return Bad("round.differential_privacy.planned_rounds",
                 "needed to derive the noise from target_epsilon when "
                 "round.max_rounds is 0");
    }
    auto z = privacy::NoiseMultiplierForEpsilon(
        p.sampling_rate, *p.target_epsilon, rounds, p.delta);
    if (!z.ok()) {
      return Bad("round.differential_privacy.target_epsilon", z.status().message());
    }
    p.noise_multiplier = *z;
    return absl::OkStatus();
  }
  if (!p.target_epsilon.has_value()) return absl::OkStatus();
  const int64_t checked = std::max<int64_t>(rounds, 1);
  const double spent = privacy::SubsampledGaussianEpsilon(
      p.sampling_rate, p.noise_multiplier, checked, p.delta);
  if (spent > *p.target_epsilon) {
    return Bad("round.differential_privacy.target_epsilon",
               absl::StrCat("is below the epsilon ", spent, " that noise_multiplier ",
                            p.noise_multiplier, " spends over ", checked,
                            " rounds at delta ", p.delta));
  }
  return absl::OkStatus();
}

// Adaptive clipping's share of the noise (Andrew et al. 2021, Section 3.1).
absl::Status ResolveCountNoise(const Dp& d, const RoundOptions& o,
                               CentralDpOptions& p) {
  p.update_noise_multiplier = p.noise_multiplier;
  if (!o.clipping.adaptive) {
    if (d.clipped_count_stddev() != 0) {
      return Bad("round.differential_privacy.clipped_count_stddev",
                 "only with round.clipping.adaptive");
    }
    return absl::OkStatus();
  }
  p.clipped_count_stddev = d.clipped_count_stddev() != 0
                               ? d.clipped_count_stddev()
                               : o.goal_count / 20.0;
  const double z = p.noise_multiplier;
  if (!(p.clipped_count_stddev > z / 2) || std::isinf(p.clipped_count_stddev)) {
    return Bad("round.differential_privacy.clipped_count_stddev",
               absl::StrCat("must exceed noise_multiplier / 2 = ", z / 2,
                            " (it is ", p.clipped_count_stddev, ")"));
  }
  const double two_sb = 2 * p.clipped_count_stddev;
  p.update_noise_multiplier = 1 / std::sqrt(1 / (z * z) - 1 / (two_sb * two_sb));
  return absl::OkStatus();
}

}  // namespace

absl::Status ResolvePrivacy(const cohort::v1::RoundConfig& c, RoundOptions& o) {
  const Dp& d = c.differential_privacy();
  if (d.mechanism() == Dp::MECHANISM_NONE) {
    std::vector<const google::protobuf::FieldDescriptor*> set;
    d.GetReflection()->ListFields(d, &set);
    if (!set.empty()) {
      return Bad(absl::StrCat("round.differential_privacy.", set[0]->name()),
                 "needs round.differential_privacy.mechanism, which is unset");
    }
    return absl::OkStatus();
  }
  if (d.mechanism() != Dp::CENTRAL_GAUSSIAN) {
    return Bad("round.differential_privacy.mechanism", "unknown mechanism");
  }
  COHORT_RETURN_IF_ERROR(CheckCompatible(c, o));
  CentralDpOptions& p = o.privacy;
  p.enabled = true;
  o.secagg.example_cap = 1;
  if (d.delta() != 0) p.delta = d.delta();
  if (!(p.delta > 0 && p.delta <= 0.1)) {
    return Bad("round.differential_privacy.delta", "must be in (0, 0.1]");
  }
  const int64_t cohort = o.selection_target();
  if (d.population_size() < cohort) {
    return Bad("round.differential_privacy.population_size",
               absl::StrCat("must be at least ", cohort,
                            ", the devices a round may aggregate (needed "
                            "with round.differential_privacy.mechanism)"));
  }
  p.sampling_rate =
      static_cast<double>(cohort) / static_cast<double>(d.population_size());
  if (d.planned_rounds() < 0) {
    return Bad("round.differential_privacy.planned_rounds", "must be >= 0");
  }
  const int64_t rounds =
      d.planned_rounds() != 0 ? d.planned_rounds() : o.max_rounds;
  COHORT_RETURN_IF_ERROR(ResolveNoise(d, rounds, p));
  return ResolveCountNoise(d, o, p);
}

}  // namespace cohort::server::internal
