#ifndef COHORT_COMMON_PRIVACY_DISCRETE_GAUSSIAN_H_
#define COHORT_COMMON_PRIVACY_DISCRETE_GAUSSIAN_H_

#include <cstdint>

#include "absl/functional/function_ref.h"

namespace cohort::privacy {

// Uniform doubles in (0, 1], the sampler's only randomness.
using UnitSource = absl::FunctionRef<double()>;

// One draw from the discrete Gaussian N_Z(0, sigma^2): the integers y with
// probability proportional to exp(-y^2 / (2 sigma^2)). Canonne, Kamath,
// Steinke 2020, "The Discrete Gaussian for Differential Privacy",
// Algorithm 3: a discrete Laplace proposal of scale t = floor(sigma) + 1
// (the difference of two geometric draws), accepted with probability
// exp(-(|y| - sigma^2 / t)^2 / (2 sigma^2)); about 1.5 proposals per draw
// on average. The probabilities are computed in floating point, not with
// the paper's exact rational arithmetic (docs/DECISIONS.md).
// sigma must be finite and > 0; sigma <= 0 returns 0.
int64_t SampleDiscreteGaussian(double sigma, UnitSource uniform);

}  // namespace cohort::privacy

#endif  // COHORT_COMMON_PRIVACY_DISCRETE_GAUSSIAN_H_
