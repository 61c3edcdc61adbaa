#include "server/aggregation/clip_bound.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::server {

ClipBound::ClipBound(const ClippingOptions& options)
    : options_(options), current_(options.clip_norm) {}

double ClipBound::Next(double clipped_fraction) const {
  if (!options_.adaptive ||
      !(clipped_fraction >= 0.0 && clipped_fraction <= 1.0)) {
    return current_;
  }
  const double unclipped = 1.0 - clipped_fraction;
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
  if (!std::isfinite(clip_norm) || !(clip_norm > 0.0)) {
    Reset();
    return absl::InvalidArgumentError(
        absl::StrCat("clip norm ", clip_norm, " is not a positive number"));
  }
  // A bound stored under other limits (the operator changed them) is
  // brought inside the current ones.
  current_ = std::clamp(clip_norm, options_.min_clip_norm,
                        options_.max_clip_norm);
  return absl::OkStatus();
}

}  // namespace cohort::server
