#include "common/codec/encoding_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::codec {
namespace {

absl::Status ValidateClipAndScale(double clip_norm, double scale) {
  if (!std::isfinite(clip_norm) || clip_norm <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip_norm must be finite and > 0, got ", clip_norm));
  }
  if (!std::isfinite(scale) || scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("scale must be finite and > 0, got ", scale));
  }
  if (clip_norm * scale >= 0x1.0p61) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip_norm * scale = ", clip_norm * scale,
                     " does not fit in 62 bits"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateParams(const EncodingParams& params) {
  absl::Status s = ValidateClipAndScale(params.clip_norm, params.scale);
  if (!s.ok()) return s;
  if (params.bits < 1 || params.bits > 62) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits must be in [1, 62], got ", params.bits));
  }
  return absl::OkStatus();
}

int64_t MaxAbsEncodedValue(double clip_norm, double scale) {
  return static_cast<int64_t>(std::ceil(clip_norm * scale)) + 1;
}

absl::StatusOr<int> ChooseBits(double clip_norm, double scale,
                               int64_t num_summands) {
  absl::Status s = ValidateClipAndScale(clip_norm, scale);
  if (!s.ok()) return s;
  if (num_summands < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_summands must be >= 1, got ", num_summands));
  }
  // Need 2^(b-1) > n * m, computed without overflow.
  const unsigned __int128 need =
      static_cast<unsigned __int128>(num_summands) *
      static_cast<unsigned __int128>(MaxAbsEncodedValue(clip_norm, scale));
  for (int b = 1; b <= 62; ++b) {
    if ((static_cast<unsigned __int128>(1) << (b - 1)) > need) return b;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "no bit width <= 62 holds the sum of ", num_summands,
      " summands at clip_norm * scale = ", clip_norm * scale));
}

}  // namespace cohort::codec
