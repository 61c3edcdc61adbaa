// RoundConfig.buffered: FedBuff's buffer, concurrency and staleness rule.

#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/round/round_options_internal.h"

namespace cohort::server::internal {
namespace {

constexpr int kMaxConcurrency = 1000000;
constexpr int kMaxStaleness = 1000;
constexpr double kMaxExponent = 10.0;

// The synchronous-round fields a buffered task has no use for: set, they
// would be accepted and never read.
absl::Status RefuseSynchronousFields(const cohort::v1::RoundConfig& c,
                                     const RoundOptions& o) {
  if (c.over_selection() != 0) {
    return Bad("round.over_selection",
               "does not apply to buffered rounds; buffered.concurrency "
               "bounds the devices at work");
  }
  if (c.selection_timeout_ms() != 0) {
    return Bad("round.selection_timeout_ms",
               "does not apply to buffered rounds, which assign devices "
               "whenever one checks in and a slot is free");
  }
  if (c.min_reports() != 0 && !o.secagg.enabled) {
    return Bad("round.min_reports",
               "applies to buffered rounds only under secure aggregation "
               "(the fewest inputs a buffer's secure sum may hold); a plain "
               "buffer commits at goal_count updates");
  }
  if (c.differential_privacy().mechanism() !=
      cohort::v1::DifferentialPrivacyConfig::MECHANISM_NONE) {
    return Bad("round.differential_privacy",
               "is not accounted for buffered rounds: the accountant assumes "
               "one sampled cohort per version");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ResolveBuffered(const cohort::v1::RoundConfig& c,
                             RoundOptions& o) {
  if (!c.has_buffered()) return absl::OkStatus();
  if (absl::Status s = RefuseSynchronousFields(c, o); !s.ok()) return s;
  const cohort::v1::BufferedConfig& b = c.buffered();
  BufferedOptions out;
  out.concurrency = b.concurrency() == 0 ? 2 * o.goal_count : b.concurrency();
  if (out.concurrency < o.goal_count || out.concurrency > kMaxConcurrency) {
    return Bad("round.buffered.concurrency",
               absl::StrCat("must be in [goal_count (", o.goal_count, "), ",
                            kMaxConcurrency, "], got ", out.concurrency));
  }
  if (b.has_max_staleness()) {
    if (b.max_staleness() < 0 || b.max_staleness() > kMaxStaleness) {
      return Bad("round.buffered.max_staleness",
                 absl::StrCat("must be in [0, ", kMaxStaleness, "]"));
    }
    out.max_staleness = b.max_staleness();
  }
  if (b.has_staleness_exponent()) {
    const double a = b.staleness_exponent();
    if (!(a >= 0 && a <= kMaxExponent)) {
      return Bad("round.buffered.staleness_exponent",
                 absl::StrCat("must be in [0, ", kMaxExponent, "]"));
    }
    out.staleness_exponent = a;
  }
  o.buffered = out;
  // A buffer's secure sum holds exactly goal_count devices.
  o.over_selection = 1.0;
  return absl::OkStatus();
}

}  // namespace cohort::server::internal
