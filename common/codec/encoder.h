#ifndef COHORT_COMMON_CODEC_ENCODER_H_
#define COHORT_COMMON_CODEC_ENCODER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/encoding_params.h"
#include "common/codec/hadamard.h"

namespace cohort::codec {

// Source of uniform doubles in [0, 1) for stochastic rounding. Injected so
// tests and the simulator are reproducible (e.g. SplitMix64::NextDouble).
using UniformSource = absl::FunctionRef<double()>;

// floor(x) + Bernoulli(x - floor(x)) with the Bernoulli drawn as u < frac, so
// E[result] = x for u uniform in [0, 1). |result - x| < 1.
int64_t StochasticRound(double x, double u);

// L2-clips x in place to norm <= clip_norm (scaling by clip_norm / ||x||);
// vectors already within the norm are left untouched. Returns the original
// norm.
double ClipToNorm(absl::Span<double> x, double clip_norm);

// (a + b) mod 2^bits elementwise, into a. bits in [1, 62] and a.size() ==
// b.size(), else INVALID_ARGUMENT. Inputs must already be < 2^bits.
absl::Status ModularAdd(absl::Span<uint64_t> a, absl::Span<const uint64_t> b,
                        int bits);

// Encodes client updates into Z_{2^bits} and decodes sums of encodings.
//
// Encode: clip to L2 norm C, optionally rotate (RandomizedHadamard), multiply
// by scale, stochastically round, wrap into [0, 2^bits) as two's complement.
// DecodeSum undoes the wrap (values >= 2^(bits-1) are negative), divides by
// scale, inverse-rotates and drops the padding.
//
// Error bounds (for a sum of n encodings that does not wrap, see ChooseBits):
// each rounded coordinate is within 1 of its scaled value, so without rotation
// every decoded coordinate is within n / scale of the sum of the clipped
// inputs. With rotation the rounding error vector e (|e_i| < 1 in each of the
// D padded coordinates) is inverse-rotated; that is an isometry, so the L2
// error is < n * sqrt(D) / scale, which also bounds each coordinate. (In
// practice the per-coordinate error is O(n * sqrt(log D) / scale).)
//
// Immutable after Create; const methods are thread-safe if the caller's
// UniformSource is not shared across threads.
class Encoder {
 public:
  // INVALID_ARGUMENT if ValidateParams(params) fails or dimension < 1.
  static absl::StatusOr<Encoder> Create(const EncodingParams& params,
                                        int64_t dimension);

  const EncodingParams& params() const { return params_; }
  int64_t dimension() const { return dimension_; }
  // Length of an encoding: the padded power of two with rotation, else
  // dimension().
  int64_t encoded_dimension() const;

  // INVALID_ARGUMENT if x.size() != dimension() or x has a non-finite value.
  // Wrap(Round(x, uniform)).
  absl::StatusOr<std::vector<uint64_t>> Encode(absl::Span<const float> x,
                                               UniformSource uniform) const;

  // Encode's first steps: clip, rotate, scale and stochastically round, as
  // integers of encoded_dimension() (distributed DP adds its noise to these
  // before the wrap). Same status codes as Encode.
  absl::StatusOr<std::vector<int64_t>> Round(absl::Span<const float> x,
                                             UniformSource uniform) const;

  // Encode's last step: each integer into Z_{2^bits} as two's complement.
  std::vector<uint64_t> Wrap(absl::Span<const int64_t> rounded) const;

  // Encode followed by PackBits at params().bits.
  absl::StatusOr<std::vector<uint8_t>> EncodeAndPack(
      absl::Span<const float> x, UniformSource uniform) const;

  // Decodes the modular sum of any number of encodings made with these
  // params. INVALID_ARGUMENT if sum.size() != encoded_dimension() or a value
  // is >= 2^bits.
  absl::StatusOr<std::vector<double>> DecodeSum(
      absl::Span<const uint64_t> sum) const;

 private:
  Encoder(const EncodingParams& params, int64_t dimension);

  EncodingParams params_;
  int64_t dimension_;
  std::optional<RandomizedHadamard> rotation_;
};

}  // namespace cohort::codec

#endif  // COHORT_COMMON_CODEC_ENCODER_H_
