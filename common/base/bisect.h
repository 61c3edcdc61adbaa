#ifndef COHORT_COMMON_BASE_BISECT_H_
#define COHORT_COMMON_BASE_BISECT_H_

#include <cmath>

#include "absl/functional/function_ref.h"

namespace cohort::base {

// The boundary of a predicate over positive numbers that holds below it and
// fails above: narrows [lo, hi] by geometric bisection (each step tries
// sqrt(lo * hi)) until hi / lo <= 1 + relative_tolerance or max_steps
// steps. The caller has checked that `holds(lo)` and not `holds(hi)`; the
// result keeps that: `lo` the largest value seen to hold, `hi` the
// smallest seen to fail. Needs 0 < lo < hi.
struct Bracket {
  double lo = 0.0;
  double hi = 0.0;
};
inline Bracket BisectGeometric(double lo, double hi, double relative_tolerance,
                               absl::FunctionRef<bool(double)> holds,
                               int max_steps = 200) {
  for (int i = 0; i < max_steps && hi / lo > 1 + relative_tolerance; ++i) {
    const double mid = std::sqrt(lo * hi);
    (holds(mid) ? lo : hi) = mid;
  }
  return {lo, hi};
}

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_BISECT_H_
