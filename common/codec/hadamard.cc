#include "common/codec/hadamard.h"

#include <cmath>

#include "common/base/splitmix64.h"
#include "glog/logging.h"

namespace cohort::codec {

int64_t NextPowerOfTwo(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

void NormalizedWalshHadamard(absl::Span<double> data) {
  const size_t d = data.size();
  CHECK(d > 0 && (d & (d - 1)) == 0) << "size " << d << " not a power of 2";
  for (size_t h = 1; h < d; h <<= 1) {
    for (size_t i = 0; i < d; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const double a = data[j];
        const double b = data[j + h];
        data[j] = a + b;
        data[j + h] = a - b;
      }
    }
  }
  const double norm = 1.0 / std::sqrt(static_cast<double>(d));
  for (double& v : data) v *= norm;
}

RandomizedHadamard::RandomizedHadamard(int64_t dimension, uint64_t seed)
    : dimension_(dimension) {
  CHECK_GE(dimension, 1);
  base::SplitMix64 rng(seed);
  signs_.resize(NextPowerOfTwo(dimension));
  // One generator output per sign keeps the signs stable if D changes.
  for (int8_t& s : signs_) s = (rng.Next() >> 63) ? -1 : 1;
}

std::vector<double> RandomizedHadamard::Rotate(
    absl::Span<const double> x) const {
  CHECK_EQ(static_cast<int64_t>(x.size()), dimension_);
  std::vector<double> y(signs_.size(), 0.0);
  for (size_t i = 0; i < x.size(); ++i) y[i] = signs_[i] * x[i];
  NormalizedWalshHadamard(absl::MakeSpan(y));
  return y;
}

std::vector<double> RandomizedHadamard::InverseRotate(
    absl::Span<const double> y) const {
  CHECK_EQ(y.size(), signs_.size());
  std::vector<double> x(y.begin(), y.end());
  NormalizedWalshHadamard(absl::MakeSpan(x));
  x.resize(dimension_);
  for (size_t i = 0; i < x.size(); ++i) x[i] *= signs_[i];
  return x;
}

}  // namespace cohort::codec
