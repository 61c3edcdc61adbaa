#ifndef COHORT_COMMON_SECAGG_FIELD_ELEMENT_H_
#define COHORT_COMMON_SECAGG_FIELD_ELEMENT_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::secagg {

// An element of GF(p) for the prime p = 2^256 + 297, the smallest prime above
// 2^256, so every 32-byte secret is a field element. (Primality is checked by
// a Miller-Rabin test in tests/common/secagg.) Five little-endian 64-bit
// limbs; the value is always reduced (< p). A plain value type: copyable and
// thread-compatible. Arithmetic is not constant-time; it handles only shares
// of seeds, whose timing the protocol does not expose to the share holder.
class FieldElement {
 public:
  static constexpr int kLimbs = 5;
  // Bytes of a serialized element: 257 bits, big-endian.
  static constexpr int kEncodedBytes = 33;
  static constexpr uint64_t kPrimeOffset = 297;  // p = 2^256 + kPrimeOffset
  using Limbs = std::array<uint64_t, kLimbs>;

  FieldElement() : limbs_{} {}
  explicit FieldElement(uint64_t v) : limbs_{v, 0, 0, 0, 0} {}

  static FieldElement Zero() { return FieldElement(); }
  static FieldElement One() { return FieldElement(1); }
  // The modulus itself as limbs (not a valid element).
  static Limbs Prime();

  // Big-endian 32 bytes -> element (always < 2^256 < p). INVALID_ARGUMENT if
  // bytes.size() != 32.
  static absl::StatusOr<FieldElement> FromSecretBytes(
      absl::Span<const uint8_t> bytes);
  // Big-endian 33 bytes -> element. INVALID_ARGUMENT if the size is wrong or
  // the value is >= p.
  static absl::StatusOr<FieldElement> FromBytes(absl::Span<const uint8_t> bytes);
  // Reduces arbitrary limbs (value < 2^320) mod p.
  static FieldElement FromLimbsReduced(const Limbs& limbs);

  // 33 big-endian bytes.
  std::array<uint8_t, kEncodedBytes> ToBytes() const;
  // 32 big-endian bytes. FAILED_PRECONDITION if the value is >= 2^256 (which
  // only happens when shares were inconsistent).
  absl::StatusOr<std::array<uint8_t, 32>> ToSecretBytes() const;

  const Limbs& limbs() const { return limbs_; }
  bool IsZero() const;

  friend FieldElement operator+(const FieldElement& a, const FieldElement& b);
  friend FieldElement operator-(const FieldElement& a, const FieldElement& b);
  friend FieldElement operator*(const FieldElement& a, const FieldElement& b);
  friend bool operator==(const FieldElement& a, const FieldElement& b) {
    return a.limbs_ == b.limbs_;
  }

  // this * m for a small integer m: one row of the schoolbook product, about
  // a fifth of the cost of operator*.
  FieldElement MulSmall(uint64_t m) const;

  // this^e for e given as limbs (little-endian).
  FieldElement Pow(const Limbs& e) const;
  // Multiplicative inverse via Fermat (a^(p-2)). CHECK-fails on zero.
  FieldElement Inverse() const;

 private:
  explicit FieldElement(const Limbs& l) : limbs_(l) {}
  Limbs limbs_;
};

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_FIELD_ELEMENT_H_
