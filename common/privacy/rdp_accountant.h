#ifndef COHORT_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
#define COHORT_COMMON_PRIVACY_RDP_ACCOUNTANT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
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
// fractional ones (signed sums: binomial(alpha, i) alternates in sign past
// alpha + 1).
// q = 1 is the plain Gaussian's order / (2 z^2). 0 for q = 0; +inf for
// z = 0 with q > 0, and for order +inf with 0 < q.
double SubsampledGaussianRdp(double q, double noise_multiplier, double order);

// The distributed discrete Gaussian (Kairouz, Liu, Steinke 2021, "The
// Distributed Discrete Gaussian Mechanism for Federated Learning with Secure
// Aggregation"): each of num_devices devices adds N_Z(0, local_stddev^2) to
// every coordinate of its integer vector of `dimension` coordinates, and
// only the sum is seen. One device changes the sum by at most
// l2_sensitivity in L2 norm and l1_sensitivity in L1 norm (integer units).
struct DistributedDiscreteGaussian {
  double local_stddev = 0.0;
  int64_t num_devices = 1;
  double l2_sensitivity = 0.0;
  double l1_sensitivity = 0.0;
  int64_t dimension = 1;
};

// RDP of one release of the sum at `order` > 1 (Kairouz et al. 2021,
// Proposition 14, the smallest of its three bounds), with
// tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k / (k + 1)) measuring how far
// a sum of discrete Gaussians is from one. A fractional order gets the next
// integer's value, which bounds it (RDP does not decrease with the order),
// because the subsampling bound (SubsampledRdp) needs integer orders.
// +inf for a zero deviation.
double DistributedDiscreteGaussianRdp(const DistributedDiscreteGaussian& m,
                                      double order);

// RDP at `order` of a mechanism run on a Poisson sample of rate q, from its
// RDP `rdp(j)` at the integer orders j = 2..ceil(order): Zhu and Wang 2019,
// "Poisson Subsampled Renyi Differential Privacy", Theorem 6 (the general
// upper bound), at the integer ceil(order) >= 2, and never above the
// unsampled rdp(ceil(order)):
//   1/(a-1) log((1-q)^(a-1) (a q - q + 1) + C(a,2) q^2 (1-q)^(a-2) e^rdp(2)
//               + 3 sum_{l=3}^{a} C(a,l) (1-q)^(a-l) q^l e^((l-1) rdp(l))).
// For the Gaussian it is the exact sum of SubsampledGaussianRdp with the
// terms from l = 3 on tripled: a valid bound, within 3x inside the log.
double SubsampledRdp(double q, double order,
                     absl::FunctionRef<double(int64_t)> rdp);

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

  // `count` rounds of the distributed discrete Gaussian `m` on a Poisson
  // sample of rate q (SubsampledRdp).
  void ComposeSubsampledDistributedDiscreteGaussian(
      double q, const DistributedDiscreteGaussian& m, int64_t count);

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

// The smallest noise multiplier z in [1e-2, max_z] (to a relative 1e-4,
// rounded up) with epsilon(z) <= target_epsilon, for any epsilon that falls
// as z grows. OUT_OF_RANGE if epsilon(max_z) exceeds the target.
absl::StatusOr<double> SmallestNoiseMultiplier(
    double target_epsilon, absl::FunctionRef<double(double)> epsilon,
    double max_z = 1e3);

// SmallestNoiseMultiplier for the subsampled Gaussian: the smallest noise multiplier in [1e-2, 1e3] (to a relative 1e-4, rounded
// up) whose epsilon after `rounds` rounds at (q, delta) is at most
// target_epsilon. INVALID_ARGUMENT if rounds < 1, q is outside (0, 1],
// delta outside (0, 1) or target_epsilon is not positive and finite;
// OUT_OF_RANGE if even z = 1e3 spends more than target_epsilon.
absl::StatusOr<double> NoiseMultiplierForEpsilon(double q,
                                                 double target_epsilon,
                                                 int64_t rounds, double delta);

}  // namespace cohort::privacy

#endif  // COHORT_COMMON_PRIVACY_RDP_ACCOUNTANT_H_
