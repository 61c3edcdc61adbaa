#include "server/aggregation/clip_bound.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::server {

ClipBound::ClipBound(const ClippingOptions& options)
    : options_(options), current_(options.clip_norm) {}

double ClipBound::Next(double clipped_fraction) const {
  if (!options_.adaptive || !(clipped_fraction >= 0.0)) return current_;
  const double unclipped = 1.0 - std::min(clipped_fraction, 1.0);
  const double next =
      current_ *
      std::exp(-options_.learning_rate * (unclipped - options_.target_quantile));
  return std::clamp(next, options_.min_clip_norm, options_.max_clip_norm);
}

absl::Status ClipBound::Set(double clip_norm) {
  if (clip_norm == 0.0 || !options_.adaptive) {
    Reset();
    return absl::OkStatus();
  }
  if (!std::isfinite(clip_norm) || clip_norm < options_.min_clip_norm ||
      clip_norm > options_.max_clip_norm) {
    Reset();
    return absl::InvalidArgumentError(absl::StrCat(
        "clip norm ", clip_norm, " is outside [", options_.min_clip_norm, ", ",
        options_.max_clip_norm, "]"));
  }
  current_ = clip_norm;
  return absl::OkStatus();
}

}  // namespace cohort::server
