#include "common/secagg/shamir.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cohort::secagg {
namespace {

absl::Status CheckPoints(absl::Span<const ShamirShare> shares) {
  std::vector<uint32_t> xs;
  xs.reserve(shares.size());
  for (const ShamirShare& s : shares) {
    if (s.x == 0) return absl::InvalidArgumentError("share with x = 0");
    xs.push_back(s.x);
  }
  std::sort(xs.begin(), xs.end());
  if (std::adjacent_find(xs.begin(), xs.end()) != xs.end()) {
    return absl::InvalidArgumentError("duplicate share x");
  }
  return absl::OkStatus();
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

absl::StatusOr<FieldElement> InterpolateAtZero(
    absl::Span<const ShamirShare> shares) {
  if (shares.empty()) return absl::InvalidArgumentError("no shares");
  if (absl::Status s = CheckPoints(shares); !s.ok()) return s;
  // secret = sum_i y_i * prod_{j != i} x_j / (x_j - x_i).
  FieldElement secret;
  for (size_t i = 0; i < shares.size(); ++i) {
    FieldElement num = FieldElement::One();
    FieldElement den = FieldElement::One();
    const FieldElement xi(shares[i].x);
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      const FieldElement xj(shares[j].x);
      num = num * xj;
      den = den * (xj - xi);
    }
    secret = secret + shares[i].y * num * den.Inverse();
  }
  return secret;
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
    const FieldElement x(static_cast<uint64_t>(k + 1));
    FieldElement y;
    for (size_t i = coeffs.size(); i-- > 0;) y = y * x + coeffs[i];  // Horner
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
