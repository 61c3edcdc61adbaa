#ifndef COHORT_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
#define COHORT_COMMON_PRIVACY_RDP_ACCOUNTANT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::privacy {

// Renyi differential privacy (Mironov 2017, "Renyi Differential Privacy")
// of the mechanisms Cohort's rounds apply, composed over rounds and
// converted to (epsilon, delta). Pure math: no randomness, no I/O.
//
// Units: epsilon in nats (the usual e^epsilon convention), delta a
// probability, the noise multiplier z the Gaussian's standard deviation
// divided by the L2 sensitivity of the sum it is added to (the clip norm).

// The orders alpha at which RdpAccountant evaluates RDP: 1.1 to 10.9 in
// steps of 0.1, the integers 11 to 63, then 128, 256 and 512.
std::span<const double> DefaultRdpOrders();

// RDP at `order` (> 1, or +inf) of one Poisson-subsampled Gaussian
// mechanism: each record takes part with probability q in [0, 1], and the
// sum of the records that do (each of L2 norm at most 1) gets
// N(0, z^2 I) noise. Mironov, Talwar, Zhang 2019, "Renyi Differential
// Privacy of the Sampled Gaussian Mechanism": the exact binomial sum of
// Section 3.2 at integer orders, the two series of Section 3.3 at
// fractional ones (their terms summed in absolute value, an upper bound).
// q = 1 is the plain Gaussian's order / (2 z^2). 0 for q = 0; +inf for
// z = 0 with q > 0, and for order +inf with 0 < q.
double SubsampledGaussianRdp(double q, double noise_multiplier, double order);

// (epsilon, delta)-DP from RDP values rdp[i] at orders[i]: the smallest,
// over orders > 1, of
//   rdp + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
// (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential
// Privacy", Proposition 12), and never below 0. `order` is the alpha that
// attains it (0 when epsilon is +inf).
struct EpsilonAtOrder {
  double epsilon = 0.0;
  double order = 0.0;
};
EpsilonAtOrder EpsilonFromRdp(std::span<const double> orders,
                              std::span<const double> rdp, double delta);

// Composes mechanisms by adding their RDP at each order (Mironov 2017,
// Proposition 1). A plain value; not synchronized.
class RdpAccountant {
 public:
  // Orders must be > 1 (or +inf); DefaultRdpOrders() when empty.
  explicit RdpAccountant(std::vector<double> orders = {});

  // `count` rounds of the subsampled Gaussian mechanism (q, z).
  void ComposeSubsampledGaussian(double q, double noise_multiplier,
                                 int64_t count);

  EpsilonAtOrder Epsilon(double delta) const;

  const std::vector<double>& orders() const { return orders_; }
  const std::vector<double>& rdp() const { return rdp_; }

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
};

// epsilon at `delta` after `rounds` rounds of the subsampled Gaussian
// mechanism (q, z), at the default orders.
double SubsampledGaussianEpsilon(double q, double noise_multiplier,
                                 int64_t rounds, double delta);

// The smallest noise multiplier in [1e-2, 1e3] (to a relative 1e-4, rounded
// up) whose epsilon after `rounds` rounds at (q, delta) is at most
// target_epsilon. INVALID_ARGUMENT if rounds < 1, q is outside (0, 1],
// delta outside (0, 1) or target_epsilon is not positive and finite;
// OUT_OF_RANGE if even z = 1e3 spends more than target_epsilon.
absl::StatusOr<double> NoiseMultiplierForEpsilon(double q,
                                                 double target_epsilon,
                                                 int64_t rounds, double delta);

}  // namespace cohort::privacy

#endif  // COHORT_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
