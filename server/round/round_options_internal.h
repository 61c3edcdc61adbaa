#ifndef COHORT_SERVER_ROUND_ROUND_OPTIONS_INTERNAL_H_
#define COHORT_SERVER_ROUND_ROUND_OPTIONS_INTERNAL_H_

// The pieces of ResolveRoundOptions shared by its source files
// (round_options.cc, round_options_learning.cc). Not for other callers.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cohort/v1/config.pb.h"
#include "server/round/round_options.h"

namespace cohort::server::internal {

// INVALID_ARGUMENT "<field>: <why>" (base::FieldError).
absl::Status Bad(absl::string_view field, absl::string_view why);

// A value of `field` in (0, 1) (`closed`: (0, 1]); 0 keeps `*out`.
absl::Status Fraction(const char* field, double value, bool closed,
                      double* out);

// RoundConfig.clipping into o.clipping.
absl::Status ResolveClipping(const cohort::v1::ClippingConfig& c,
                             RoundOptions& o);

// RoundConfig.aggregator and .robust into o.robust; needs o.secagg,
// o.goal_count and o.min_reports resolved.
absl::Status ResolveAggregator(const cohort::v1::RoundConfig& c,
                               RoundOptions& o);

// RoundConfig.differential_privacy into o.privacy (and o.secagg.example_cap);
// needs every other field resolved.
absl::Status ResolvePrivacy(const cohort::v1::RoundConfig& c, RoundOptions& o);

// RoundConfig.buffered into o.buffered (and o.over_selection = 1); needs
// o.goal_count and o.secagg resolved, and runs before the checks of secure
// cohorts, which then plan for a buffer of goal_count devices.
absl::Status ResolveBuffered(const cohort::v1::RoundConfig& c,
                             RoundOptions& o);

}  // namespace cohort::server::internal

#endif  // COHORT_SERVER_ROUND_ROUND_OPTIONS_INTERNAL_H_
