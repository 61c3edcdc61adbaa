#ifndef COHORT_COMMON_PRIVACY_DISCRETE_GAUSSIAN_H_
#define COHORT_COMMON_PRIVACY_DISCRETE_GAUSSIAN_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace cohort::privacy {

// Uniform doubles in (0, 1], the sampler's only randomness.
using UnitSource = absl::FunctionRef<double()>;

// The deviations SampleDiscreteGaussian accepts: below, sigma^2 underflows
// the acceptance test; above, the proposals overflow int64.
inline constexpr double kMinDiscreteGaussianSigma = 1e-3;
inline constexpr double kMaxDiscreteGaussianSigma = 1099511627776.0;  // 2^40

// One draw from the discrete Gaussian N_Z(0, sigma^2): the integers y with
// probability proportional to exp(-y^2 / (2 sigma^2)). Canonne, Kamath,
// Steinke 2020, "The Discrete Gaussian for Differential Privacy",
// Algorithm 3: a discrete Laplace proposal of scale t = floor(sigma) + 1
// (the difference of two geometric draws), accepted with probability
// exp(-(|y| - sigma^2 / t)^2 / (2 sigma^2)); about 1.5 proposals per draw
// on average. The probabilities are computed in floating point, not with
// the paper's exact rational arithmetic (docs/DECISIONS.md).
// INVALID_ARGUMENT for sigma outside [kMinDiscreteGaussianSigma,
// kMaxDiscreteGaussianSigma]; INTERNAL after 10,000 rejected proposals (a
// broken uniform source: a working one fails that way with probability
// below 10^-1700).
absl::StatusOr<int64_t> SampleDiscreteGaussian(double sigma, UnitSource uniform);

}  // namespace cohort::privacy

#endif  // COHORT_COMMON_PRIVACY_DISCRETE_GAUSSIAN_H_
