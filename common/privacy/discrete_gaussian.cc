#include "common/privacy/discrete_gaussian.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::privacy {
namespace {

// Failures before the first success of a Bernoulli(1 - e^(-1/t)):
// floor(-t ln U) for U uniform in (0, 1]; at most t * 745 (ln of the
// smallest double), so within int64 for t <= 2^40 + 1.
int64_t Geometric(double t, UnitSource uniform) {
  const double u = uniform();
  if (!(u > 0)) return 0;
  return static_cast<int64_t>(std::floor(-t * std::log(std::min(u, 1.0))));
}

}  // namespace

absl::StatusOr<int64_t> SampleDiscreteGaussian(double sigma,
                                               UnitSource uniform) {
  if (!(sigma >= kMinDiscreteGaussianSigma &&
        sigma <= kMaxDiscreteGaussianSigma)) {
    return absl::InvalidArgumentError(
        absl::StrCat("discrete Gaussian deviation ", sigma, " outside [",
                     kMinDiscreteGaussianSigma, ", ",
                     kMaxDiscreteGaussianSigma, "]"));
  }
  const double t = std::floor(sigma) + 1;
  const double var = sigma * sigma;
  constexpr int kMaxProposals = 10000;
  for (int i = 0; i < kMaxProposals; ++i) {
    // The difference of two geometric draws is discrete Laplace with
    // P(y) proportional to e^(-|y| / t).
    const int64_t y = Geometric(t, uniform) - Geometric(t, uniform);
    const double gap = std::abs(static_cast<double>(y)) - var / t;
    if (uniform() <= std::exp(-gap * gap / (2 * var))) return y;
  }
  return absl::InternalError(absl::StrCat(
      kMaxProposals, " discrete Gaussian proposals in a row were rejected"));
}

}  // namespace cohort::privacy
