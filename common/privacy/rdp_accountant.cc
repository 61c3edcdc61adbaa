#include "common/privacy/rdp_accountant.h"

#include <math.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "common/base/bisect.h"

namespace cohort::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(e^a + e^b), exact when either is -inf.
double LogAdd(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double hi = std::max(a, b);
  return hi + std::log1p(std::exp(std::min(a, b) - hi));
}

// log|Gamma(x)|, without the global sign that std::lgamma writes.
double LogAbsGamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

// log|binomial(alpha, k)| for real alpha >= 0 and integer k >= 0.
double LogAbsBinomial(double alpha, double k) {
  return LogAbsGamma(alpha + 1) - LogAbsGamma(k + 1) -
         LogAbsGamma(alpha - k + 1);
}

// log(erfc(x)), also where erfc(x) underflows: beyond x = 20 the
// asymptotic series erfc(x) ~ e^(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + ...).
double LogErfc(double x) {
  if (x < 20) return std::log(std::erfc(x));
  const double r = 1.0 / (x * x);
  return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) +
         std::log1p(-0.5 * r + 0.75 * r * r - 1.875 * r * r * r);
}

// log(A_alpha) for integer alpha (Mironov et al. 2019, Section 3.2):
//   A_alpha = sum_k binomial(alpha, k) (1 - q)^(alpha - k) q^k
//             exp((k^2 - k) / (2 sigma^2)).
double LogAInteger(double q, double sigma, int64_t alpha) {
  double log_a = -kInf;
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  for (int64_t k = 0; k <= alpha; ++k) {
    const double kd = static_cast<double>(k);
    const double term = LogAbsBinomial(static_cast<double>(alpha), kd) +
                        kd * log_q + (static_cast<double>(alpha) - kd) * log_1mq +
                        (kd * kd - kd) / (2 * sigma * sigma);
    log_a = LogAdd(log_a, term);
  }
  return log_a;
}

// A running sum kept as log|S| and the sign of S, for series whose terms
// differ in sign and magnitude by hundreds of orders.
struct SignedLogSum {
  double log_abs = -kInf;
  bool negative = false;

  void Add(double log_term, bool term_negative) {
    if (log_abs == -kInf || term_negative == negative) {
      log_abs = LogAdd(log_abs, log_term);
      if (log_abs == log_term) negative = term_negative;
      return;
    }
    // Opposite signs: the larger magnitude keeps its sign.
    const double hi = std::max(log_abs, log_term);
    const double lo = std::min(log_abs, log_term);
    if (log_term > log_abs) negative = term_negative;
    log_abs = hi == lo ? -kInf : hi + std::log1p(-std::exp(lo - hi));
  }
};

// log(A_alpha) for fractional alpha (Mironov et al. 2019, Section 3.3): the
// integral split at z0, where q mu1 = (1 - q) mu0; each side a binomial
// series in the smaller ratio, weighted by Gaussian tails. binomial(alpha, i)
// changes sign with every i past alpha + 1, so the sums are signed. Stops
// once both terms fall below e^-30 (A_alpha >= 1).
double LogAFractional(double q, double sigma, double alpha) {
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double two_var = 2 * sigma * sigma;
  const double root2_sigma = std::numbers::sqrt2 * sigma;
  const double floor_alpha = std::floor(alpha);
  SignedLogSum a0;
  SignedLogSum a1;
  constexpr int kMaxTerms = 1000000;
  for (int i = 0; i < kMaxTerms; ++i) {
    const double id = i;
    const double j = alpha - id;
    const double coef = LogAbsBinomial(alpha, id);
    // binomial(alpha, i) has one negative factor (alpha - m) for each m < i
    // above alpha.
    const double negative_factors = std::max(0.0, id - floor_alpha - 1);
    const bool negative = std::fmod(negative_factors, 2.0) == 1.0;
    const double s0 = coef + id * log_q + j * log_1mq + (id * id - id) / two_var +
                      std::log(0.5) + LogErfc((id - z0) / root2_sigma);
    const double s1 = coef + j * log_q + id * log_1mq + (j * j - j) / two_var +
                      std::log(0.5) + LogErfc((z0 - j) / root2_sigma);
    a0.Add(s0, negative);
    a1.Add(s1, negative);
    if (std::max(s0, s1) < -30) break;
  }
  return LogAdd(a0.log_abs, a1.log_abs);
}

bool IsInteger(double x) { return std::floor(x) == x; }

}  // namespace

std::span<const double> DefaultRdpOrders() {
  static const std::vector<double> kOrders = [] {
    std::vector<double> orders;
    for (int i = 11; i <= 109; ++i) orders.push_back(i / 10.0);
    for (int i = 11; i <= 63; ++i) orders.push_back(i);
    for (double o : {128.0, 256.0, 512.0}) orders.push_back(o);
    return orders;
  }();
  return kOrders;
}

double SubsampledGaussianRdp(double q, double noise_multiplier, double order) {
  if (q <= 0) return 0.0;
  if (noise_multiplier <= 0 || std::isinf(order)) return kInf;
  const double z = noise_multiplier;
  if (q >= 1) return order / (2 * z * z);
  const double log_a = IsInteger(order)
                           ? LogAInteger(q, z, static_cast<int64_t>(order))
                           : LogAFractional(q, z, order);
  return log_a / (order - 1);
}

double DistributedDiscreteGaussianRdp(const DistributedDiscreteGaussian& m,
                                      double order) {
  if (!(m.local_stddev > 0) || m.num_devices < 1) return kInf;
  if (std::isinf(order)) return kInf;
  const double alpha = std::ceil(order);
  const double n = static_cast<double>(m.num_devices);
  const double var = m.local_stddev * m.local_stddev;
  double tau = 0;
  for (int64_t k = 1; k < m.num_devices; ++k) {
    const double kd = static_cast<double>(k);
    tau += std::exp(-2 * std::numbers::pi * std::numbers::pi * var * kd / (kd + 1));
  }
  tau *= 10;
  const double spread = std::sqrt(n) * m.local_stddev;
  const double l2 = m.l2_sensitivity / spread;
  const double l1 = m.l1_sensitivity / spread;
  const double d = static_cast<double>(m.dimension);
  const double first = alpha / 2 * l2 * l2 + tau * d;
  const double second = alpha / 2 * (l2 * l2 + 2 * l1 * tau + tau * tau * d);
  const double third = alpha / 2 * (l2 + std::sqrt(d) * tau) * (l2 + std::sqrt(d) * tau);
  return std::min({first, second, third});
}

double SubsampledRdp(double q, double order,
                     absl::FunctionRef<double(int64_t)> rdp) {
  if (q <= 0) return 0.0;
  if (std::isinf(order)) return kInf;
  const int64_t alpha =
      std::max<int64_t>(2, static_cast<int64_t>(std::ceil(order)));
  const double unsampled = rdp(alpha);
  if (q >= 1) return unsampled;
  const double a = static_cast<double>(alpha);
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  // log of (1-q)^(a-1) (a q - q + 1) + C(a,2) q^2 (1-q)^(a-2) e^rdp(2)
  //        + 3 sum_{l=3}^{a} C(a,l) (1-q)^(a-l) q^l e^((l-1) rdp(l)).
  double log_sum = (a - 1) * log_1mq + std::log1p(a * q - q);
  log_sum = LogAdd(log_sum, LogAbsBinomial(a, 2) + 2 * log_q +
                                (a - 2) * log_1mq + rdp(2));
  for (int64_t l = 3; l <= alpha; ++l) {
    const double ld = static_cast<double>(l);
    log_sum = LogAdd(log_sum, std::log(3.0) + LogAbsBinomial(a, ld) +
                                  (a - ld) * log_1mq + ld * log_q +
                                  (ld - 1) * rdp(l));
  }
  return std::min(unsampled, log_sum / (a - 1));
}

EpsilonAtOrder EpsilonFromRdp(std::span<const double> orders,
                              std::span<const double> rdp, double delta) {
  // Nothing spent (every order's RDP is 0) is epsilon 0, not the
  // conversion's slack at the largest order.
  if (std::all_of(rdp.begin(), rdp.end(), [](double r) { return r == 0; })) {
    return {0.0, orders.empty() ? 0.0 : orders.back()};
  }
  EpsilonAtOrder best{kInf, 0.0};
  const double log_delta = std::log(delta);
  for (size_t i = 0; i < orders.size() && i < rdp.size(); ++i) {
    const double a = orders[i];
    if (!(a > 1) || std::isinf(a) || !std::isfinite(rdp[i])) continue;
    const double eps = rdp[i] + std::log1p(-1 / a) -
                       (log_delta + std::log(a)) / (a - 1);
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(best.epsilon, 0.0);
  return best;
}

RdpAccountant::RdpAccountant(std::vector<double> orders)
    : orders_(std::move(orders)) {
  if (orders_.empty()) {
    const auto d = DefaultRdpOrders();
    orders_.assign(d.begin(), d.end());
  }
  rdp_.assign(orders_.size(), 0.0);
}

void RdpAccountant::ComposeSubsampledGaussian(double q, double noise_multiplier,
                                              int64_t count) {
  if (count <= 0) return;
  for (size_t i = 0; i < orders_.size(); ++i) {
    rdp_[i] += static_cast<double>(count) *
               SubsampledGaussianRdp(q, noise_multiplier, orders_[i]);
  }
}

void RdpAccountant::ComposeSubsampledDistributedDiscreteGaussian(
    double q, const DistributedDiscreteGaussian& m, int64_t count) {
  if (count <= 0) return;
  auto rdp = [&m](int64_t j) {
    return DistributedDiscreteGaussianRdp(m, static_cast<double>(j));
  };
  for (size_t i = 0; i < orders_.size(); ++i) {
    rdp_[i] += static_cast<double>(count) * SubsampledRdp(q, orders_[i], rdp);
  }
}

EpsilonAtOrder RdpAccountant::Epsilon(double delta) const {
  return EpsilonFromRdp(orders_, rdp_, delta);
}

double SubsampledGaussianEpsilon(double q, double noise_multiplier,
                                 int64_t rounds, double delta) {
  RdpAccountant accountant;
  accountant.ComposeSubsampledGaussian(q, noise_multiplier, rounds);
  return accountant.Epsilon(delta).epsilon;
}

absl::StatusOr<double> NoiseMultiplierForEpsilon(double q,
                                                 double target_epsilon,
                                                 int64_t rounds, double delta) {
  if (rounds < 1 || !(q > 0 && q <= 1) || !(delta > 0 && delta < 1) ||
      !(target_epsilon > 0) || std::isinf(target_epsilon)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot search a noise multiplier for q = ", q, ", epsilon = ",
        target_epsilon, ", delta = ", delta, " over ", rounds, " rounds"));
  }
  return SmallestNoiseMultiplier(target_epsilon, [&](double z) {
    return SubsampledGaussianEpsilon(q, z, rounds, delta);
  });
}

absl::StatusOr<double> SmallestNoiseMultiplier(
    double target_epsilon, absl::FunctionRef<double(double)> epsilon,
    double max_z) {
  double lo = 1e-2;
  double hi = std::max(max_z, lo);
  if (!(epsilon(hi) <= target_epsilon)) {
    return absl::OutOfRangeError(absl::StrCat(
        "epsilon ", target_epsilon, " is out of reach: even noise multiplier ",
        hi, " spends ", epsilon(hi)));
  }
  if (epsilon(lo) <= target_epsilon) return lo;
  // epsilon falls as z grows: the boundary of "spends more than the target".
  return base::BisectGeometric(lo, hi, 1e-4, [&](double z) {
           return !(epsilon(z) <= target_epsilon);
         }).hi;
}

}  // namespace cohort::privacy
