#ifndef COHORT_COMMON_DATA_DIRICHLET_H_
#define COHORT_COMMON_DATA_DIRICHLET_H_

#include <vector>

#include "common/base/random.h"

namespace cohort::data {

// Log of a Gamma(alpha, 1) draw, stable for small alpha (a direct draw
// underflows to 0 for alpha around 0.01): Gamma(alpha) =
// Gamma(alpha + 1) * U^(1/alpha), kept in log space.
double LogGamma(double alpha, base::Random& random);

// Symmetric Dirichlet(alpha) proportions over k outcomes, summing to 1.
// Handles the limits: all mass on one uniform outcome when every draw
// underflows (alpha near 0), uniform proportions when draws overflow (huge
// alpha).
std::vector<double> DirichletProportions(int k, double alpha,
                                         base::Random& random);

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_DIRICHLET_H_
