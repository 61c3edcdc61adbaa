#ifndef COHORT_COMMON_SECAGG_SHAMIR_H_
#define COHORT_COMMON_SECAGG_SHAMIR_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/secagg/field_element.h"

namespace cohort::secagg {

// Fills a buffer with random bytes. Production passes the CSPRNG, e.g.
// [&](absl::Span<uint8_t> b) { return secure_random.Fill(b); }; tests pass a
// seeded deterministic source. A non-OK status is returned unchanged.
using RandomFill = absl::FunctionRef<absl::Status(absl::Span<uint8_t>)>;

// One share: the polynomial's value y at the public point x (x >= 1).
struct ShamirShare {
  uint32_t x = 0;
  FieldElement y;
};

// Samples a uniform element of GF(p) by rejection from 257-bit strings.
// Returns rng's error if it fails.
absl::StatusOr<FieldElement> RandomFieldElement(RandomFill rng);

// Lagrange interpolation of the polynomial through `shares` at x = 0, with
// no threshold check. INVALID_ARGUMENT on an empty list or a zero or
// duplicate x. Reconstruct is the checked entry point; this is exposed for
// tests that show t-1 shares reveal nothing useful.
absl::StatusOr<FieldElement> InterpolateAtZero(
    absl::Span<const ShamirShare> shares);

// The Lagrange coefficients at x = 0 for one set of share points, so that
// the secret is sum_i coefficient_i * y_i. The server reconstructs one
// secret per client, and owners whose shares come from the same points (all
// of them when nobody drops) reuse one set; computing it costs about t^2/6
// small multiplications and one field inversion. Immutable once created;
// thread-compatible.
class LagrangeAtZero {
 public:
  // INVALID_ARGUMENT if `xs` is empty or has a zero or repeated point.
  static absl::StatusOr<LagrangeAtZero> Create(absl::Span<const uint32_t> xs);

  const std::vector<uint32_t>& xs() const { return xs_; }
  const std::vector<FieldElement>& coefficients() const { return coeffs_; }

  // sum_i coefficient_i * ys[i], where ys[i] is the share at xs()[i].
  // CHECK-fails unless ys.size() == xs().size().
  FieldElement Interpolate(absl::Span<const FieldElement> ys) const;

 private:
  LagrangeAtZero(std::vector<uint32_t> xs, std::vector<FieldElement> coeffs)
      : xs_(std::move(xs)), coeffs_(std::move(coeffs)) {}
  std::vector<uint32_t> xs_;
  std::vector<FieldElement> coeffs_;
};

// Replaces each (nonzero) element by its inverse with one field inversion
// and 3(n-1) multiplications (Montgomery's trick). CHECK-fails on zero.
void BatchInvert(absl::Span<FieldElement> values);

// t-of-n Shamir secret sharing of 32-byte secrets over GF(2^256 + 297).
// Stateless; the functions are thread-safe if rng is.
class ShamirSecretSharing {
 public:
  // Splits `secret` (exactly 32 bytes, big-endian) into n shares at x = 1..n,
  // any t of which reconstruct it. INVALID_ARGUMENT if the secret is not 32
  // bytes, t < 1, or t > n; rng's error if it fails.
  static absl::StatusOr<std::vector<ShamirShare>> Share(
      absl::Span<const uint8_t> secret, int t, int n, RandomFill rng);

  // Recovers the secret from the first t of `shares`. INVALID_ARGUMENT if
  // t < 1, fewer than t shares, or any x is zero or repeated among all the
  // shares. FAILED_PRECONDITION if the shares are inconsistent and the result
  // is not a 32-byte value (inconsistency is otherwise undetectable).
  static absl::StatusOr<std::array<uint8_t, 32>> Reconstruct(
      absl::Span<const ShamirShare> shares, int t);
};

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_SHAMIR_H_
