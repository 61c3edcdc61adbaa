#include "common/secagg/parameter_finder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cohort::secagg {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double LogAddExp(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

double LogPmf(int k, double p, int i) {
  if (p <= 0) return i == 0 ? 0 : kNegInf;
  if (p >= 1) return i == k ? 0 : kNegInf;
  return std::lgamma(k + 1.0) - std::lgamma(i + 1.0) - std::lgamma(k - i + 1.0) +
         i * std::log(p) + (k - i) * std::log1p(-p);
}

// below[t] = ln P[Bin(k,p) < t] for t in [0, k+1].
std::vector<double> CdfBelow(int k, double p) {
  std::vector<double> below(k + 2, kNegInf);
  for (int t = 1; t <= k + 1; ++t) {
    below[t] = LogAddExp(below[t - 1], LogPmf(k, p, t - 1));
  }
  return below;
}

// at_least[t] = ln P[Bin(k,p) >= t] for t in [0, k+1].
std::vector<double> TailAtLeast(int k, double p) {
  std::vector<double> at_least(k + 2, kNegInf);
  for (int t = k; t >= 0; --t) {
    at_least[t] = LogAddExp(at_least[t + 1], LogPmf(k, p, t));
  }
  return at_least;
}

struct Attempt {
  bool found = false;
  SecAggParameters params;
  std::string why;  // which bound failed, for the error message
};

Attempt TryDegree(int n, int k, bool complete, double delta, double gamma) {
  const double ln_n = std::log(static_cast<double>(n));
  const double ln2 = std::log(2.0);
  const std::vector<double> fail = CdfBelow(k, 1 - delta);
  const std::vector<double> leak = TailAtLeast(k, gamma);
  const double q = 1 - (1 - gamma) * (1 - delta);
  const double ln_disconnect =
      complete || q <= 0 ? kNegInf : ln_n + (k / 2) * std::log(q);
  Attempt a;
  for (int t = k / 2 + 1; t <= k; ++t) {
    const double sec = LogAddExp(ln_n + leak[t], ln_disconnect) / ln2;
    const double fai = (ln_n + fail[t]) / ln2;
    if (fai >= kLog2FailureTarget) {
      a.why = absl::StrCat("dropout failure bound 2^", fai, " >= 2^",
                           kLog2FailureTarget);
      return a;  // failure only grows with t
    }
    if (sec < kLog2SecurityTarget) {
      a.found = true;
      a.params = {.k = k,
                  .t = t,
                  .complete_graph = complete,
                  .log2_failure = fai,
                  .log2_security = sec};
      return a;
    }
    a.why = absl::StrCat("security bound 2^", sec, " >= 2^",
                         kLog2SecurityTarget);
  }
  return a;
}

absl::Status ValidateInputs(int n, double dropout_rate,
                            double corrupt_fraction) {
  if (n < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SecAgg+ needs n >= 2 clients (masks cancel only between clients), "
        "got ", n));
  }
  if (!(dropout_rate >= 0 && dropout_rate < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dropout_rate must be in [0, 1), got ", dropout_rate));
  }
  if (!(corrupt_fraction >= 0 && corrupt_fraction < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "corrupt_fraction must be in [0, 1), got ", corrupt_fraction));
  }
  return absl::OkStatus();
}

SecAggParameters CompleteGraphFallback(int n, double delta, double gamma) {
  SecAggParameters p;
  p.k = n - 1;
  p.t = p.k / 2 + 1;
  p.complete_graph = true;
  p.fallback = true;
  const double ln_n = std::log(static_cast<double>(n));
  const double ln2 = std::log(2.0);
  p.log2_failure = (ln_n + LogBinomialCdfBelow(p.k, 1 - delta, p.t)) / ln2;
  p.log2_security = (ln_n + LogBinomialTailAtLeast(p.k, gamma, p.t)) / ln2;
  return p;
}

}  // namespace

double LogBinomialCdfBelow(int k, double p, int t) {
  if (t <= 0) return kNegInf;
  if (t > k) return 0;
  return CdfBelow(k, p)[t];
}

double LogBinomialTailAtLeast(int k, double p, int t) {
  if (t <= 0) return 0;
  if (t > k) return kNegInf;
  return TailAtLeast(k, p)[t];
}

absl::StatusOr<SecAggParameters> FindParameters(int n, double dropout_rate,
                                                double corrupt_fraction) {
  if (absl::Status s = ValidateInputs(n, dropout_rate, corrupt_fraction);
      !s.ok()) {
    return s;
  }
  Attempt last;
  for (int k = 2; k < n - 1 && k <= kMaxSearchedDegree; k += 2) {
    last = TryDegree(n, k, false, dropout_rate, corrupt_fraction);
    if (last.found) return last.params;
  }
  if (n - 1 <= kMaxSearchedDegree) {
    last = TryDegree(n, n - 1, true, dropout_rate, corrupt_fraction);
    if (last.found) return last.params;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no SecAgg+ parameters for n=", n, " dropout=", dropout_rate,
      " corrupt=", corrupt_fraction, ": at the largest degree tried, ",
      last.why));
}

absl::StatusOr<SecAggParameters> ChooseParameters(int n, double dropout_rate,
                                                  double corrupt_fraction) {
  if (absl::Status s = ValidateInputs(n, dropout_rate, corrupt_fraction);
      !s.ok()) {
    return s;
  }
  if (dropout_rate >= kMaxPlannableDropout) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no SecAgg+ cohort can be planned for dropout ", dropout_rate,
        ": the threshold must exceed half of each client's neighbours "
        "(t > k/2), so at a dropout of ", kMaxPlannableDropout,
        " or more most clients keep fewer than t and the round aborts"));
  }
  auto found = FindParameters(n, dropout_rate, corrupt_fraction);
  if (found.ok() ||
      found.status().code() != absl::StatusCode::kFailedPrecondition) {
    return found;
  }
  return CompleteGraphFallback(n, dropout_rate, corrupt_fraction);
}

std::vector<int> GroupSizes(int n, int max_group_size) {
  if (n <= 0) return {};
  if (max_group_size <= 0 || n <= max_group_size) return {n};
  const int groups = (n + max_group_size - 1) / max_group_size;
  std::vector<int> sizes(groups, n / groups);
  for (int g = 0; g < n % groups; ++g) ++sizes[g];
  return sizes;
}

}  // namespace cohort::secagg
