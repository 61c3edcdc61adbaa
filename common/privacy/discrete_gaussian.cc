#include "common/privacy/discrete_gaussian.h"

#include <cmath>

namespace cohort::privacy {
namespace {

// Failures before the first success of a Bernoulli(1 - e^(-1/t)):
// floor(-t ln U) for U uniform in (0, 1].
int64_t Geometric(double t, UnitSource uniform) {
  return static_cast<int64_t>(std::floor(-t * std::log(uniform())));
}

}  // namespace

int64_t SampleDiscreteGaussian(double sigma, UnitSource uniform) {
  if (!(sigma > 0) || !std::isfinite(sigma)) return 0;
  const double t = std::floor(sigma) + 1;
  const double var = sigma * sigma;
  while (true) {
    // The difference of two geometric draws is discrete Laplace with
    // P(y) proportional to e^(-|y| / t).
    const int64_t y = Geometric(t, uniform) - Geometric(t, uniform);
    const double gap = std::abs(static_cast<double>(y)) - var / t;
    if (uniform() <= std::exp(-gap * gap / (2 * var))) return y;
  }
}

}  // namespace cohort::privacy
