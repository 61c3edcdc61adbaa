#include "common/secagg/field_element.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::secagg {
namespace {

using u128 = unsigned __int128;
constexpr uint64_t kC = FieldElement::kPrimeOffset;

// Little-endian multi-limb helpers on fixed-size arrays.
template <size_t N>
int Compare(const std::array<uint64_t, N>& a, const std::array<uint64_t, N>& b) {
  for (size_t i = N; i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

// a -= b modulo 2^(64N); returns the borrow.
template <size_t N>
uint64_t SubInPlace(std::array<uint64_t, N>& a, const std::array<uint64_t, N>& b) {
  uint64_t borrow = 0;
  for (size_t i = 0; i < N; ++i) {
    const u128 d = static_cast<u128>(a[i]) - b[i] - borrow;
    a[i] = static_cast<uint64_t>(d);
    borrow = static_cast<uint64_t>(d >> 64) ? 1 : 0;
  }
  return borrow;
}

template <size_t N>
uint64_t AddInPlace(std::array<uint64_t, N>& a, const std::array<uint64_t, N>& b) {
  uint64_t carry = 0;
  for (size_t i = 0; i < N; ++i) {
    const u128 s = static_cast<u128>(a[i]) + b[i] + carry;
    a[i] = static_cast<uint64_t>(s);
    carry = static_cast<uint64_t>(s >> 64);
  }
  return carry;
}

using Wide = std::array<uint64_t, 10>;

bool HighIsZero(const Wide& m) {
  for (int i = 4; i < 10; ++i) {
    if (m[i] != 0) return false;
  }
  return true;
}

// Reduces a value < 2^640 mod p. Because 2^256 = -c (mod p), m = hi*2^256 +
// lo is congruent to lo - c*hi; we fold until hi vanishes, tracking the sign
// of the running value, since the difference may go negative.
FieldElement::Limbs ReduceWide(Wide m) {
  bool negative = false;
  while (!HighIsZero(m)) {
    Wide chi{};  // c * hi, at most 7 limbs
    uint64_t carry = 0;
    for (int i = 4; i < 10; ++i) {
      const u128 p = static_cast<u128>(m[i]) * kC + carry;
      chi[i - 4] = static_cast<uint64_t>(p);
      carry = static_cast<uint64_t>(p >> 64);
    }
    chi[6] = carry;
    Wide lo{};
    for (int i = 0; i < 4; ++i) lo[i] = m[i];
    if (Compare(lo, chi) >= 0) {
      SubInPlace(lo, chi);
      m = lo;
    } else {
      SubInPlace(chi, lo);
      m = chi;
      negative = !negative;
    }
  }
  FieldElement::Limbs r{m[0], m[1], m[2], m[3], 0};
  bool zero = (r == FieldElement::Limbs{});
  if (negative && !zero) {
    FieldElement::Limbs p = FieldElement::Prime();
    SubInPlace(p, r);
    r = p;
  }
  return r;
}

}  // namespace

FieldElement::Limbs FieldElement::Prime() { return {kC, 0, 0, 0, 1}; }

FieldElement FieldElement::FromLimbsReduced(const Limbs& limbs) {
  Wide w{};
  for (int i = 0; i < kLimbs; ++i) w[i] = limbs[i];
  return FieldElement(ReduceWide(w));
}

absl::StatusOr<FieldElement> FieldElement::FromSecretBytes(
    absl::Span<const uint8_t> bytes) {
  if (bytes.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret must be 32 bytes, got ", bytes.size()));
  }
  Limbs l{};
  for (int i = 0; i < 32; ++i) {
    const int bit = (31 - i) * 8;
    l[bit / 64] |= static_cast<uint64_t>(bytes[i]) << (bit % 64);
  }
  return FieldElement(l);
}

absl::StatusOr<FieldElement> FieldElement::FromBytes(
    absl::Span<const uint8_t> bytes) {
  if (bytes.size() != kEncodedBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field element must be ", kEncodedBytes, " bytes, got ", bytes.size()));
  }
  Limbs l{};
  for (int i = 0; i < kEncodedBytes; ++i) {
    const int bit = (kEncodedBytes - 1 - i) * 8;
    l[bit / 64] |= static_cast<uint64_t>(bytes[i]) << (bit % 64);
  }
  if (Compare(l, Prime()) >= 0) {
    return absl::InvalidArgumentError("field element is not below the prime");
  }
  return FieldElement(l);
}

std::array<uint8_t, FieldElement::kEncodedBytes> FieldElement::ToBytes() const {
  std::array<uint8_t, kEncodedBytes> out{};
  for (int i = 0; i < kEncodedBytes; ++i) {
    const int bit = (kEncodedBytes - 1 - i) * 8;
    out[i] = static_cast<uint8_t>(limbs_[bit / 64] >> (bit % 64));
  }
  return out;
}

absl::StatusOr<std::array<uint8_t, 32>> FieldElement::ToSecretBytes() const {
  if (limbs_[4] != 0) {
    return absl::FailedPreconditionError(
        "value is >= 2^256, so it is not a 32-byte secret");
  }
  std::array<uint8_t, 32> out{};
  const auto full = ToBytes();
  for (int i = 0; i < 32; ++i) out[i] = full[i + 1];
  return out;
}

bool FieldElement::IsZero() const { return limbs_ == Limbs{}; }

FieldElement operator+(const FieldElement& a, const FieldElement& b) {
  FieldElement::Limbs s = a.limbs_;
  AddInPlace(s, b.limbs_);  // < 2p < 2^258: no carry out of 5 limbs
  const FieldElement::Limbs p = FieldElement::Prime();
  if (Compare(s, p) >= 0) SubInPlace(s, p);
  return FieldElement(s);
}

FieldElement operator-(const FieldElement& a, const FieldElement& b) {
  FieldElement::Limbs d = a.limbs_;
  if (SubInPlace(d, b.limbs_)) AddInPlace(d, FieldElement::Prime());
  return FieldElement(d);
}

FieldElement operator*(const FieldElement& a, const FieldElement& b) {
  Wide w{};
  for (int i = 0; i < FieldElement::kLimbs; ++i) {
    uint64_t carry = 0;
    for (int j = 0; j < FieldElement::kLimbs; ++j) {
      const u128 t = static_cast<u128>(a.limbs_[i]) * b.limbs_[j] + w[i + j] +
                     carry;
      w[i + j] = static_cast<uint64_t>(t);
      carry = static_cast<uint64_t>(t >> 64);
    }
    w[i + FieldElement::kLimbs] = carry;
  }
  return FieldElement(ReduceWide(w));
}

FieldElement FieldElement::Pow(const Limbs& e) const {
  FieldElement result = One();
  for (int i = kLimbs * 64; i-- > 0;) {
    result = result * result;
    if ((e[i / 64] >> (i % 64)) & 1) result = result * *this;
  }
  return result;
}

FieldElement FieldElement::Inverse() const {
  CHECK(!IsZero()) << "zero has no inverse";
  Limbs e = Prime();
  SubInPlace(e, Limbs{2, 0, 0, 0, 0});
  return Pow(e);
}

}  // namespace cohort::secagg
