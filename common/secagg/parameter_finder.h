#ifndef COHORT_COMMON_SECAGG_PARAMETER_FINDER_H_
#define COHORT_COMMON_SECAGG_PARAMETER_FINDER_H_

#include <vector>

#include "absl/status/statusor.h"

namespace cohort::secagg {

// Targets (as log2 probabilities), as FCP and Bell et al. 2020 use.
inline constexpr double kLog2SecurityTarget = -40.0;
inline constexpr double kLog2FailureTarget = -20.0;
// Largest sharing-graph degree the finder tries before the complete graph
// (bounds its running time; real settings need k in the tens to low hundreds).
inline constexpr int kMaxSearchedDegree = 4096;

// Sharing-graph degree and Shamir threshold for one SecAgg+ round.
struct SecAggParameters {
  int k = 0;  // neighbours per client; n-1 means the complete graph
  int t = 0;  // shares needed to reconstruct, 1 <= t <= k
  bool complete_graph = false;
  // Set by ChooseParameters when no degree met both targets and it fell back
  // to the complete graph with the smallest allowed threshold.
  bool fallback = false;
  // The evaluated bounds, log2 of the union-bound probabilities below.
  double log2_failure = 0;
  double log2_security = 0;
};

// Dropout rates at or above this cannot be planned for at any cohort size:
// the threshold must exceed half of a client's neighbours (t > k/2, see
// FindParameters), so at a dropout of 1/2 or more most clients keep fewer
// than t surviving neighbours and nearly every round aborts.
inline constexpr double kMaxPlannableDropout = 0.5;

// ln P[Binomial(k, p) < t] and ln P[Binomial(k, p) >= t], summed exactly in
// log space from lgamma-based log binomial coefficients (-inf for 0).
double LogBinomialCdfBelow(int k, double p, int t);
double LogBinomialTailAtLeast(int k, double p, int t);

// Chooses the smallest even k (or the complete graph, k = n-1, once k would
// reach n-1) and, for it, the smallest threshold t such that, with each
// client dropping independently with probability delta = dropout_rate and
// being corrupt with probability gamma = corrupt_fraction:
//
//  Failure (< 2^-20): some client keeps fewer than t surviving neighbours:
//    n * P[Bin(k, 1-delta) < t].
//  Security (< 2^-40): the adversary (server plus corrupt clients) learns a
//  secret because some client has >= t corrupt neighbours, or the honest
//  surviving subgraph disconnects so a partial sum leaks:
//    n * P[Bin(k, gamma) >= t] + n * q^(k/2),  q = 1-(1-gamma)(1-delta).
//  The second term is conservative: a ring Harary graph minus a set of nodes
//  stays connected unless k/2 consecutive ring positions are all removed;
//  the complete graph never disconnects, so the term is 0 there. Sampling
//  corrupt neighbours as independent Bernoulli(gamma) approximates drawing
//  them without replacement from a fixed corrupt set (whose tail is smaller
//  for the same mean, so the binomial errs on the safe side in practice).
//  Also t > k/2, so a server that lies about who dropped cannot collect both
//  kinds of share for one client from disjoint neighbour halves.
//
// INVALID_ARGUMENT if n < 2 or a rate is outside [0, 1). FAILED_PRECONDITION
// (with the bound that could not be met) if no k <= min(n-1,
// kMaxSearchedDegree) or the complete graph meets both targets, e.g. small n
// with nonzero dropout, or dropout 0.9 with corruption 0.5.
absl::StatusOr<SecAggParameters> FindParameters(int n, double dropout_rate,
                                                double corrupt_fraction);

// The one rule for which cohorts a SecAgg+ round can serve, and with which
// (k, t); the round engine uses it per round and ResolveRoundOptions at
// start-up. FindParameters' answer when it meets both targets. Otherwise
// (cohorts below a few dozen clients) the complete graph with the smallest
// threshold the protocol allows, k = n - 1 and t = floor(k/2) + 1, with
// `fallback` set and log2_failure / log2_security evaluated for it (they
// miss the targets). So every n >= 2 is served at every dropout_rate below
// kMaxPlannableDropout, and servability does not depend on n beyond n >= 2.
//
// INVALID_ARGUMENT for n < 2 (masks cancel only between clients, and one
// client's "sum" is its update) or a rate outside [0, 1);
// FAILED_PRECONDITION for dropout_rate >= kMaxPlannableDropout.
absl::StatusOr<SecAggParameters> ChooseParameters(int n, double dropout_rate,
                                                  double corrupt_fraction);

// Smallest allowed max_group_size: with G >= 3 every group of a split
// cohort holds at least 2 clients, which ChooseParameters serves.
inline constexpr int kMinGroupSize = 3;

// The one rule for splitting a cohort of n clients into SecAgg+ instances
// of at most `max_group_size` clients (hierarchical secure aggregation):
// ceil(n / max_group_size) groups whose sizes differ by at most one, the
// larger first, so no group is a small remainder. max_group_size 0 (or n
// <= max_group_size) gives one group of n. Sizes sum to n; {} for n <= 0.
// Requires max_group_size == 0 or >= kMinGroupSize.
std::vector<int> GroupSizes(int n, int max_group_size);

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_PARAMETER_FINDER_H_
