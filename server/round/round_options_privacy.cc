// RoundOptions' differential privacy (RoundConfig.differential_privacy).

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/bisect.h"
#include "common/base/status_macros.h"
#include "common/privacy/rdp_accountant.h"
#include "common/secagg/distributed_encoding.h"
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

// noise_multiplier, target_epsilon and planned_rounds into p, checked for
// range; SettleNoise decides z.
absl::Status ResolveNoiseFields(const Dp& d, int64_t max_rounds,
                                PrivacyOptions& p) {
  if (!InRange(d.noise_multiplier(), 0, 1e3)) {
    return Bad("round.differential_privacy.noise_multiplier",
               "must be in (0, 1e3]");
  }
  if (!InRange(d.target_epsilon(), 0, 1e3)) {
    return Bad("round.differential_privacy.target_epsilon",
               "must be in (0, 1e3]");
  }
  if (d.planned_rounds() < 0) {
    return Bad("round.differential_privacy.planned_rounds", "must be >= 0");
  }
  if (d.target_epsilon() > 0) p.target_epsilon = d.target_epsilon();
  p.noise_multiplier = d.noise_multiplier();
  p.planned_rounds = d.planned_rounds() != 0 ? d.planned_rounds() : max_rounds;
  if (p.noise_multiplier == 0 && !p.target_epsilon.has_value()) {
    return Bad("round.differential_privacy.noise_multiplier",
               "set it, or target_epsilon to derive it (needed with "
               "round.differential_privacy.mechanism)");
  }
  return absl::OkStatus();
}

// Derives z from the budget when it is unset, or checks that z keeps the
// budget for the planned rounds; `epsilon(z)` is what z spends over them.
absl::Status SettleNoise(PrivacyOptions& p,
                         absl::FunctionRef<double(double)> epsilon,
                         double max_z = 1e3) {
  if (p.noise_multiplier == 0) {
    if (p.planned_rounds < 1) {
      return Bad("round.differential_privacy.planned_rounds",
                 "needed to derive the noise from target_epsilon when "
                 "round.max_rounds is 0");
    }
    auto z =
        privacy::SmallestNoiseMultiplier(*p.target_epsilon, epsilon, max_z);
    if (!z.ok()) {
      return Bad("round.differential_privacy.target_epsilon",
                 absl::StrCat(z.status().message(), " over ", p.planned_rounds,
                              " rounds at delta ", p.delta));
    }
    p.noise_multiplier = *z;
    return absl::OkStatus();
  }
  if (!p.target_epsilon.has_value()) return absl::OkStatus();
  const double spent = epsilon(p.noise_multiplier);
  if (spent > *p.target_epsilon) {
    return Bad("round.differential_privacy.target_epsilon",
               absl::StrCat("is below the epsilon ", spent,
                            " that noise_multiplier ", p.noise_multiplier,
                            " spends over ",
                            std::max<int64_t>(p.planned_rounds, 1),
                            " rounds at delta ", p.delta));
  }
  return absl::OkStatus();
}

// Adaptive clipping's share of the noise (Andrew et al. 2021, Section 3.1).
absl::Status ResolveCountNoise(const Dp& d, const RoundOptions& o,
                               PrivacyOptions& p) {
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

// What the distributed mechanism needs beyond CheckCompatible.
absl::Status CheckDistributed(const RoundOptions& o) {
  if (!o.secagg.enabled) {
    return Bad("round.differential_privacy.mechanism",
               "DISTRIBUTED_DISCRETE_GAUSSIAN adds its noise inside secure "
               "aggregation, which round.secure_aggregation turns off");
  }
  if (o.clipping.adaptive) {
    return Bad("round.clipping.adaptive",
               "the clipped count is not noised under distributed DP; use a "
               "fixed clip_norm");
  }
  if (o.secagg.max_group_size != 0) {
    return Bad("round.secure_aggregation.max_group_size",
               "distributed DP plans its noise for the whole cohort's sum, "
               "but each SecAgg group releases its own sum with only its "
               "devices' noise; leave max_group_size at 0");
  }
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
  if (d.mechanism() != Dp::CENTRAL_GAUSSIAN &&
      d.mechanism() != Dp::DISTRIBUTED_DISCRETE_GAUSSIAN) {
    return Bad("round.differential_privacy.mechanism", "unknown mechanism");
  }
  COHORT_RETURN_IF_ERROR(CheckCompatible(c, o));
  PrivacyOptions& p = o.privacy;
  p.enabled = true;
  p.distributed = d.mechanism() == Dp::DISTRIBUTED_DISCRETE_GAUSSIAN;
  if (p.distributed) COHORT_RETURN_IF_ERROR(CheckDistributed(o));
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
  COHORT_RETURN_IF_ERROR(ResolveNoiseFields(d, o.max_rounds, p));
  if (p.distributed) {
    // The encoding needs the model's dimension: PlanDistributedPrivacy.
    o.secagg.rotate = true;
    p.min_contributors = o.min_reports;
    if (d.clipped_count_stddev() != 0) {
      return Bad("round.differential_privacy.clipped_count_stddev",
                 "only with round.clipping.adaptive, which distributed DP "
                 "refuses");
    }
    return absl::OkStatus();
  }
  const int64_t rounds = std::max<int64_t>(p.planned_rounds, 1);
  COHORT_RETURN_IF_ERROR(SettleNoise(p, [&](double z) {
    return privacy::SubsampledGaussianEpsilon(p.sampling_rate, z, rounds,
                                              p.delta);
  }));
  return ResolveCountNoise(d, o, p);
}

}  // namespace cohort::server::internal

namespace cohort::server {

absl::Status PlanDistributedPrivacy(RoundOptions& o, int64_t dimension) {
  PrivacyOptions& p = o.privacy;
  if (!p.enabled || !p.distributed) return absl::OkStatus();
  auto plan = [&](double z) {
    return secagg::PlanDistributedEncoding(
        o.secagg.bits_per_coordinate, o.clipping.clip_norm,
        /*rotation_seed=*/0, dimension, o.selection_target(),
        p.min_contributors, z);
  };
  const int64_t rounds = std::max<int64_t>(p.planned_rounds, 1);
  // What z spends over the planned rounds; +inf when no encoding holds it.
  auto epsilon = [&](double z) {
    auto encoding = plan(z);
    if (!encoding.ok()) return std::numeric_limits<double>::infinity();
    PrivacyOptions trial = p;
    trial.distributed_mechanism =
        DistributedMechanismOf(*encoding, p.min_contributors);
    return SpentEpsilon(trial, rounds);
  };
  // The most noise the modulus holds bounds the search.
  double max_z = 1e3;
  if (!plan(max_z).ok()) {
    max_z = base::BisectGeometric(1e-2, max_z, 1e-6,
                                  [&](double z) { return plan(z).ok(); })
                .lo;
  }
  COHORT_RETURN_IF_ERROR(internal::SettleNoise(p, epsilon, max_z));
  auto encoding = plan(p.noise_multiplier);
  if (!encoding.ok()) {
    return internal::Bad("round.secure_aggregation.bits_per_coordinate",
                         encoding.status().message());
  }
  encoding->field = o.secagg.field;
  p.distributed_mechanism = DistributedMechanismOf(*encoding, p.min_contributors);
  o.secagg.distributed_encoding = *std::move(encoding);
  return absl::OkStatus();
}

}  // namespace cohort::server
