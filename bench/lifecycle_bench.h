#ifndef COHORT_BENCH_LIFECYCLE_BENCH_H_
#define COHORT_BENCH_LIFECYCLE_BENCH_H_

// Pieces of bench/lifecycle_bench (see lifecycle_bench.cc).

#include <cstdint>
#include <string>

namespace cohort::bench {

// Where the consecutive committed versions come from: a finished cohort-sim
// run folder (its state/ store) when `run_dir` is set, else a fresh run of
// `rounds` rounds of the scenario in `config_path`, in process.
struct DeltaSource {
  std::string config_path;
  int rounds = 0;
  std::string run_dir;
};

// Delta downloads (common/model/delta.h) between consecutive committed
// versions, each pair as a device holding the first downloads the second:
// the int8 artifact (the default) and the fp32 one, built by
// server::Publish exactly as the coordinator serves them.
struct DeltaFigures {
  std::string source;  // the run folder, or "N-round <config>"
  int pairs = 0;
  double mean_ratio_int8 = 0;  // mean over pairs of delta / full bytes
  double mean_ratio_fp32 = 0;
  double last_ratio_int8 = 0;   // the last pair's
  int64_t full_bytes_int8 = 0;  // one int8 artifact
  int64_t mean_delta_bytes_int8 = 0;
  double encode_ms_int8 = 0;  // mean per pair: EncodeDelta, ApplyDelta
  double apply_ms_int8 = 0;
};

// CHECK-fails when the run cannot be made or read, or a delta does not
// rebuild its target exactly.
DeltaFigures MeasureDeltas(const DeltaSource& source);

// A run of `rounds` rounds of the scenario in `config_path` whose round
// `poisoned_round` (>= 2) is poisoned (PoisonConfig, scale -20, every
// device), with field monitoring on (min_reports half the cohort, drop 0.1).
struct RollbackSource {
  std::string config_path;
  int rounds = 0;
  int poisoned_round = 0;
};

struct RollbackFigures {
  int poisoned_round = 0;
  // Rounds from the poisoned one to the automatic rollback; -1 if none came.
  int rounds_to_auto_rollback = -1;
  // Mean field accuracy devices reported of the version before the poisoned
  // round's, and of the poisoned round's version, over field_reports.
  double field_accuracy_before = 0;
  double field_accuracy_poisoned = 0;
  int64_t field_reports = 0;
  // Holdout accuracy before, of the poisoned version, and after rollback.
  double holdout_before = 0;
  double holdout_poisoned = 0;
  double holdout_after = 0;
};

// CHECK-fails when the run cannot be made.
RollbackFigures MeasureAutoRollback(const RollbackSource& source);

}  // namespace cohort::bench

#endif  // COHORT_BENCH_LIFECYCLE_BENCH_H_
