#ifndef COHORT_COMMON_BASE_PERCENTILE_H_
#define COHORT_COMMON_BASE_PERCENTILE_H_

#include <algorithm>
#include <cstddef>
#include <vector>

namespace cohort::base {

// The q-quantile (q in [0, 1]) of `values` by nearest rank, e.g. q = 0.95 for
// a p95 latency; 0 for no values.
inline double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t index =
      static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_PERCENTILE_H_
