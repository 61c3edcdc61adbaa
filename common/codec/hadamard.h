#ifndef COHORT_COMMON_CODEC_HADAMARD_H_
#define COHORT_COMMON_CODEC_HADAMARD_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace cohort::codec {

// Smallest power of two >= n (1 for n <= 1).
int64_t NextPowerOfTwo(int64_t n);

// In-place fast Walsh-Hadamard transform normalized by 1/sqrt(d), so it is
// orthonormal and its own inverse. data.size() must be a power of two
// (CHECK-fails otherwise).
void NormalizedWalshHadamard(absl::Span<double> data);

// The randomized Hadamard rotation R = (1/sqrt(D)) H diag(s): s are public
// ±1 signs drawn from SplitMix64(seed), D = NextPowerOfTwo(dimension). R is an
// isometry, so ||Rx|| = ||x|| and every coordinate of Rx is at most ||x||.
// Immutable after construction, so const methods are thread-safe.
class RandomizedHadamard {
 public:
  RandomizedHadamard(int64_t dimension, uint64_t seed);

  int64_t dimension() const { return dimension_; }
  int64_t padded_dimension() const {
    return static_cast<int64_t>(signs_.size());
  }

  // x.size() == dimension(); returns padded_dimension() values (zero-padded
  // then rotated). CHECK-fails on a size mismatch.
  std::vector<double> Rotate(absl::Span<const double> x) const;

  // y.size() == padded_dimension(); applies R^-1 = diag(s) H / sqrt(D) and
  // drops the padding, returning dimension() values.
  std::vector<double> InverseRotate(absl::Span<const double> y) const;

 private:
  int64_t dimension_;
  std::vector<int8_t> signs_;
};

}  // namespace cohort::codec

#endif  // COHORT_COMMON_CODEC_HADAMARD_H_
