#ifndef COHORT_SERVER_AGGREGATION_CLIP_BOUND_H_
#define COHORT_SERVER_AGGREGATION_CLIP_BOUND_H_

#include "absl/status/status.h"

namespace cohort::server {

// RoundConfig.clipping with defaults applied and values checked
// (ResolveRoundOptions).
struct ClippingOptions {
  // The fixed bound, or the adaptive bound's first value. In (0, 1e6].
  double clip_norm = 10.0;
  bool adaptive = false;
  // Adaptive only: the target quantile gamma in (0, 1), the rate eta_C in
  // (0, 1], and the bounds the clip norm stays within.
  double target_quantile = 0.5;
  double learning_rate = 0.2;
  double min_clip_norm = 1e-3;
  double max_clip_norm = 1e6;
  // The running statistics' own bound (model/running_statistics.h); 0:
  // model::DefaultStatisticsClipNorm of the round's model. In [0, 1e6].
  double statistics_clip_norm = 0.0;
};

// The L2 bound a round's updates are clipped to. Fixed, it is always
// options.clip_norm. Adaptive (Andrew et al. 2021, "Differentially Private
// Learning with Adaptive Clipping", geometric update), after a round in
// which a fraction b of the updates were NOT clipped:
//
//   C <- clamp(C * exp(-eta_C * (b - gamma)), min_clip_norm, max_clip_norm)
//
// so C rises while fewer than gamma of the updates fit under it and falls
// while more do; it settles at the gamma-quantile of the update norms.
// Only the count of clipped updates is used, which SecAgg+ sums securely.
//
// A plain value; the RoundCommitter keeps the current bound and stores it
// with each version (ServerOptimizerState.clip_norm).
class ClipBound {
 public:
  explicit ClipBound(const ClippingOptions& options);

  double current() const { return current_; }
  bool adaptive() const { return options_.adaptive; }

  // The bound after a round whose updates were clipped in the share
  // `clipped_fraction`. current() when fixed, or when the fraction is not
  // in [0, 1] (NaN: nothing was aggregated, or the count was forged).
  double Next(double clipped_fraction) const;

  // Adopts a bound from Next() or from the store. 0 (none stored, or a
  // fixed bound was stored) starts from options.clip_norm; a positive value
  // outside [min_clip_norm, max_clip_norm] (stored under other limits) is
  // clamped into them. INVALID_ARGUMENT for a negative or non-finite value;
  // the bound then starts over.
  absl::Status Set(double clip_norm);
  // Starts over from options.clip_norm.
  void Reset() { current_ = options_.clip_norm; }

 private:
  ClippingOptions options_;
  double current_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_CLIP_BOUND_H_
