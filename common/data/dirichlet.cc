#include "common/data/dirichlet.h"

#include <algorithm>
#include <cmath>

namespace cohort::data {

double LogGamma(double alpha, base::Random& random) {
  if (alpha >= 1.0) return std::log(random.Gamma(alpha));
  const double boosted = random.Gamma(alpha + 1.0);
  const double u = 1.0 - random.UniformDouble();  // In (0, 1].
  return std::log(boosted) + std::log(u) / alpha;
}

std::vector<double> DirichletProportions(int k, double alpha,
                                         base::Random& random) {
  std::vector<double> logs(static_cast<size_t>(k));
  bool overflow = false;
  for (double& value : logs) {
    value = LogGamma(alpha, random);
    overflow = overflow || std::isnan(value) || value == HUGE_VAL;
  }
  std::vector<double> share(static_cast<size_t>(k), 0.0);
  if (overflow) {
    // Only for absurdly large alpha, whose limit is the uniform distribution.
    std::fill(share.begin(), share.end(), 1.0 / k);
    return share;
  }
  const double max_log = *std::max_element(logs.begin(), logs.end());
  if (max_log == -HUGE_VAL) {
    // Every draw underflowed even in log space (alpha near the smallest
    // double); the alpha -> 0 limit puts all mass on one uniform label.
    share[random.Uniform(static_cast<uint64_t>(k))] = 1.0;
    return share;
  }
  double sum = 0.0;
  for (int i = 0; i < k; ++i) {
    share[i] = std::exp(logs[i] - max_log);
    sum += share[i];
  }
  for (double& value : share) value /= sum;
  return share;
}

}  // namespace cohort::data
