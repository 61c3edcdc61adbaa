#include "common/secagg/shamir.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::secagg {
namespace {

absl::Status CheckXs(std::vector<uint32_t> xs) {
  if (xs.empty()) return absl::InvalidArgumentError("no shares");
  for (uint32_t x : xs) {
    if (x == 0) return absl::InvalidArgumentError("share with x = 0");
  }
  std::sort(xs.begin(), xs.end());
  if (std::adjacent_find(xs.begin(), xs.end()) != xs.end()) {
    return absl::InvalidArgumentError("duplicate share x");
  }
  return absl::OkStatus();
}

std::vector<uint32_t> XsOf(absl::Span<const ShamirShare> shares) {
  std::vector<uint32_t> xs;
  xs.reserve(shares.size());
  for (const ShamirShare& s : shares) xs.push_back(s.x);
  return xs;
}

absl::Status CheckPoints(absl::Span<const ShamirShare> shares) {
  if (shares.empty()) return absl::OkStatus();
  return CheckXs(XsOf(shares));
}

// prod_{j != i} (x_j - x_i) as a field element. The factors are small
// (|x_j - x_i| < 2^32), so several are multiplied in 64-bit integers before
// each field multiplication; the sign is tracked separately.
FieldElement DenominatorProduct(absl::Span<const uint32_t> xs, size_t i) {
  FieldElement acc = FieldElement::One();
  uint64_t run = 1;
  bool negative = false;
  for (size_t j = 0; j < xs.size(); ++j) {
    if (j == i) continue;
    const int64_t d = static_cast<int64_t>(xs[j]) - xs[i];
    const uint64_t m = static_cast<uint64_t>(d < 0 ? -d : d);
    negative ^= d < 0;
    uint64_t next;
    if (__builtin_mul_overflow(run, m, &next)) {
      acc = acc.MulSmall(run);
      next = m;
    }
    run = next;
  }
  acc = acc.MulSmall(run);
  return negative ? FieldElement::Zero() - acc : acc;
}

}  // namespace

absl::StatusOr<FieldElement> RandomFieldElement(RandomFill rng) {
  std::array<uint8_t, FieldElement::kEncodedBytes> buf;
  // p is just above 2^256, so about half of all 257-bit strings are accepted.
  for (;;) {
    absl::Status s = rng(absl::MakeSpan(buf));
    if (!s.ok()) return s;
    buf[0] &= 1;
    absl::StatusOr<FieldElement> e = FieldElement::FromBytes(buf);
    if (e.ok()) return e;
  }
}

void BatchInvert(absl::Span<FieldElement> values) {
  if (values.empty()) return;
  // prefix[i] = values[0] * ... * values[i]
  std::vector<FieldElement> prefix(values.size());
  prefix[0] = values[0];
  for (size_t i = 1; i < values.size(); ++i) prefix[i] = prefix[i - 1] * values[i];
  FieldElement inv = prefix.back().Inverse();  // CHECKs nonzero
  for (size_t i = values.size(); i-- > 1;) {
    const FieldElement vi = values[i];
    values[i] = inv * prefix[i - 1];
    inv = inv * vi;
  }
  values[0] = inv;
}

absl::StatusOr<LagrangeAtZero> LagrangeAtZero::Create(
    absl::Span<const uint32_t> xs) {
  std::vector<uint32_t> points(xs.begin(), xs.end());
  if (absl::Status s = CheckXs(points); !s.ok()) return s;
  // coefficient_i = prod_{j != i} x_j / (x_j - x_i)
  //               = (prod_j x_j) / (x_i * prod_{j != i} (x_j - x_i)).
  FieldElement all = FieldElement::One();
  for (uint32_t x : points) all = all.MulSmall(x);
  std::vector<FieldElement> coeffs(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    coeffs[i] = DenominatorProduct(points, i).MulSmall(points[i]);
  }
  BatchInvert(absl::MakeSpan(coeffs));
  for (FieldElement& c : coeffs) c = c * all;
  return LagrangeAtZero(std::move(points), std::move(coeffs));
}

FieldElement LagrangeAtZero::Interpolate(
    absl::Span<const FieldElement> ys) const {
  CHECK_EQ(ys.size(), coeffs_.size());
  FieldElement secret;
  for (size_t i = 0; i < ys.size(); ++i) secret = secret + coeffs_[i] * ys[i];
  return secret;
}

absl::StatusOr<FieldElement> InterpolateAtZero(
    absl::Span<const ShamirShare> shares) {
  absl::StatusOr<LagrangeAtZero> lagrange =
      LagrangeAtZero::Create(XsOf(shares));
  if (!lagrange.ok()) return lagrange.status();
  std::vector<FieldElement> ys;
  ys.reserve(shares.size());
  for (const ShamirShare& s : shares) ys.push_back(s.y);
  return lagrange->Interpolate(ys);
}

absl::StatusOr<std::vector<ShamirShare>> ShamirSecretSharing::Share(
    absl::Span<const uint8_t> secret, int t, int n, RandomFill rng) {
  if (t < 1 || t > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("need 1 <= t <= n, got t=", t, " n=", n));
  }
  absl::StatusOr<FieldElement> s = FieldElement::FromSecretBytes(secret);
  if (!s.ok()) return s.status();
  std::vector<FieldElement> coeffs = {*s};  // coeffs[0] is the secret
  for (int i = 1; i < t; ++i) {
    absl::StatusOr<FieldElement> c = RandomFieldElement(rng);
    if (!c.ok()) return c.status();
    coeffs.push_back(*c);
  }
  std::vector<ShamirShare> shares(n);
  for (int k = 0; k < n; ++k) {
    FieldElement y;
    // Horner's rule; x is a small integer, so MulSmall suffices.
    for (size_t i = coeffs.size(); i-- > 0;) y = y.MulSmall(k + 1) + coeffs[i];
    shares[k] = {static_cast<uint32_t>(k + 1), y};
  }
  return shares;
}

absl::StatusOr<std::array<uint8_t, 32>> ShamirSecretSharing::Reconstruct(
    absl::Span<const ShamirShare> shares, int t) {
  if (t < 1) {
    return absl::InvalidArgumentError(absl::StrCat("t must be >= 1, got ", t));
  }
  if (static_cast<int>(shares.size()) < t) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need at least t=", t, " shares, got ", shares.size()));
  }
  if (absl::Status s = CheckPoints(shares); !s.ok()) return s;
  absl::StatusOr<FieldElement> v = InterpolateAtZero(shares.subspan(0, t));
  if (!v.ok()) return v.status();
  return v->ToSecretBytes();
}

}  // namespace cohort::secagg
