#ifndef COHORT_SERVER_ROUND_ROUND_METRICS_H_
#define COHORT_SERVER_ROUND_ROUND_METRICS_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string>

namespace cohort::server {

// Why assigned devices' updates are missing from a round, by cause.
struct DropCounts {
  // Still working when the report deadline closed the round (the round went
  // on without them).
  int64_t timeout = 0;
  // The device's stream ended before it reported.
  int64_t disconnect = 0;
  // The report was refused: wrong names, shapes or dtype, NaN or Inf, an
  // example count out of range, or a plaintext report in a secure round.
  int64_t malformed = 0;
  // In the secure cohort, but its input is not in the sum: it left, timed
  // out or was dropped by SecAgg+ before its masked input counted (or the
  // protocol aborted).
  int64_t secagg = 0;
  // Devices SecAgg+ dropped, by the phase they were in (the order of
  // secagg::SecAggServer::kPhaseNames: AdvertiseKeys, ShareKeys,
  // MaskedInputCollection, Unmasking). Unlike `secagg`, this counts a device
  // dropped in Unmasking, whose input is still in the sum.
  std::array<int64_t, 4> secagg_by_phase{};

  // The devices a round lost: every cause but timeout (a device still
  // working at the deadline is late, not lost). metrics.csv's `dropped`.
  int64_t lost() const { return disconnect + malformed + secagg; }
};

// What one metrics.csv row says about a round beyond its own file's columns.
struct RoundOutcome {
  DropCounts drops;
  // The round's L2 bound on each update (RoundConfig.clipping).
  double clip_norm = std::numeric_limits<double>::quiet_NaN();
  // Aggregated updates whose L2 norm exceeded clip_norm, as a fraction of
  // the aggregated updates. NaN when nothing was aggregated.
  double clipped_fraction = std::numeric_limits<double>::quiet_NaN();
  // Under differential privacy, the epsilon spent so far; NaN without.
  double epsilon = std::numeric_limits<double>::quiet_NaN();
  // Rounds abandoned since the previous row; their reasons are logged.
  int64_t abandoned_rounds = 0;
  // Field monitoring of the version the round trained from: mean device
  // accuracy (NaN without reports) and the number of reports.
  double field_accuracy = std::numeric_limits<double>::quiet_NaN();
  int64_t field_reports = 0;
  // Drift of that version's field data from the nearest earlier version
  // with input and prediction summaries (FieldDrift): feature drift
  // (standardized mean difference) and prediction drift (total variation);
  // NaN without summaries on both sides.
  double field_feature_drift = std::numeric_limits<double>::quiet_NaN();
  double field_prediction_drift = std::numeric_limits<double>::quiet_NaN();
  // "committed", "held" (the gate kept the version from release) or
  // "rolled_back" (field monitoring rolled back the version the round
  // trained from; the row's version is the rollback's).
  std::string release = "committed";
};

// The columns cohort-server's metrics.csv (RunRecorder) and cohort-sim's
// (MetricsCsvWriter) share, defined once here. Each file appends them, in
// this order, after its own columns:
//
//   dropped_timeout,dropped_disconnect,dropped_malformed,dropped_secagg
//       DropCounts, integers;
//   clip_norm          6 decimals, the round's L2 bound;
//   clipped_fraction   6 decimals, "nan" when nothing was aggregated;
//   epsilon            6 decimals, the task's epsilon at its delta after the
//                      round, "nan" without differential privacy;
//   abandoned_rounds   integer;
//   field_accuracy     6 decimals, "nan" without field reports;
//   field_reports      integer;
//   field_feature_drift, field_prediction_drift
//                      6 decimals, "nan" without summaries to compare;
//   release            committed | held | rolled_back.
//
// Each file's `dropped` column is DropCounts::lost().
//
// COHORT_ROUND_OUTCOME_COLUMNS is the same header as a string literal, so a
// file's own header can stay one constexpr literal:
//   kHeader[] = "round,...," COHORT_ROUND_OUTCOME_COLUMNS;
#define COHORT_ROUND_OUTCOME_COLUMNS                                     \
  "dropped_timeout,dropped_disconnect,dropped_malformed,dropped_secagg," \
  "clip_norm,clipped_fraction,epsilon,abandoned_rounds,field_accuracy," \
  "field_reports,field_feature_drift,field_prediction_drift,release"
inline constexpr char kRoundOutcomeHeader[] = COHORT_ROUND_OUTCOME_COLUMNS;
inline constexpr int kRoundOutcomeColumns = 13;

// The kRoundOutcomeHeader fields of `outcome`, comma-separated, no leading
// or trailing comma. Locale-free (see AppendFixed).
std::string FormatRoundOutcome(const RoundOutcome& outcome);

// Appends `v` with exactly `precision` decimals using std::to_chars, so the
// bytes depend neither on the locale nor on the libc: NaN is "nan",
// infinities "inf" / "-inf", and a value that rounds to zero has no sign.
void AppendFixed(std::string* out, double v, int precision);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_METRICS_H_
