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

// Both reductions below use 2^256 = -c (mod p): a value lo + 2^256 * hi is
// congruent to lo - c * hi, and c is small, so c * hi is much shorter than
// hi. One or two such folds plus one conditional correction by p replace a
// general division.

// Adds p if the five-limb two's-complement value r is negative (top limb all
// ones, i.e. -1), otherwise subtracts p once if r >= p. Callers guarantee
// -p < r < 2p.
FieldElement::Limbs Normalize(FieldElement::Limbs r) {
  const FieldElement::Limbs p = FieldElement::Prime();
  if (r[4] == ~uint64_t{0}) {
    AddInPlace(r, p);  // the carry out of limb 4 cancels the sign
  } else if (Compare(r, p) >= 0) {
    SubInPlace(r, p);
  }
  return r;
}

// lo (limbs 0-3) + 2^256 * (w[4] + 2^64 * w[5]) mod p, for w[5] < 2^62.
FieldElement::Limbs ReduceShort(const std::array<uint64_t, 6>& w) {
  const u128 t0 = static_cast<u128>(w[4]) * kC;
  const u128 t1 = static_cast<u128>(w[5]) * kC + static_cast<uint64_t>(t0 >> 64);
  // c * hi = t1:t0 < 2^136; r = lo - c * hi is above -2^136 > -p.
  const FieldElement::Limbs sub{static_cast<uint64_t>(t0),
                                static_cast<uint64_t>(t1),
                                static_cast<uint64_t>(t1 >> 64), 0, 0};
  FieldElement::Limbs r{w[0], w[1], w[2], w[3], 0};
  SubInPlace(r, sub);  // a borrow leaves limb 4 all ones: negative
  return Normalize(r);
}

// A product of two elements (< p^2 < 2^514, nine limbs) mod p. The first
// fold leaves lo - c * hi with c * hi < 2^267; splitting c * hi at 2^256 and
// folding its top (< 2^11) again leaves lo - tlo + c * thi, which lies in
// (-2^256, 2^256 + 2^20): within one p of the result.
FieldElement::Limbs ReduceProduct(const std::array<uint64_t, 9>& w) {
  std::array<uint64_t, 5> t{};  // c * w[4..8] below 2^256, top in `top`
  uint64_t carry = 0;
  for (int i = 0; i < 5; ++i) {
    const u128 m = static_cast<u128>(w[4 + i]) * kC + carry;
    t[i] = static_cast<uint64_t>(m);
    carry = static_cast<uint64_t>(m >> 64);
  }
  // carry is 0 since c * hi < 2^267; t[4] < 2^11.
  const u128 add = static_cast<u128>(t[4]) * kC + w[0];
  FieldElement::Limbs r{static_cast<uint64_t>(add), w[1], w[2], w[3], 0};
  uint64_t c = static_cast<uint64_t>(add >> 64);
  for (int i = 1; i < 5 && c != 0; ++i) {
    r[i] += c;
    c = r[i] == 0 ? 1 : 0;
  }
  SubInPlace(r, FieldElement::Limbs{t[0], t[1], t[2], t[3], 0});
  return Normalize(r);
}

}  // namespace

FieldElement::Limbs FieldElement::Prime() { return {kC, 0, 0, 0, 1}; }

FieldElement FieldElement::FromLimbsReduced(const Limbs& limbs) {
  return FieldElement(
      ReduceShort({limbs[0], limbs[1], limbs[2], limbs[3], limbs[4], 0}));
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
  // Elements are below p < 2^257, so limb 4 is 0 or 1: a 4x4 schoolbook
  // product plus shifted additions for the top bits.
  const auto& x = a.limbs_;
  const auto& y = b.limbs_;
  std::array<uint64_t, 9> w{};
  for (int i = 0; i < 4; ++i) {
    uint64_t carry = 0;
    for (int j = 0; j < 4; ++j) {
      const u128 t = static_cast<u128>(x[i]) * y[j] + w[i + j] + carry;
      w[i + j] = static_cast<uint64_t>(t);
      carry = static_cast<uint64_t>(t >> 64);
    }
    w[i + 4] = carry;
  }
  auto add_high = [&w](const FieldElement::Limbs& v) {  // w += v_lo * 2^256
    uint64_t carry = 0;
    for (int i = 0; i < 4; ++i) {
      const u128 s = static_cast<u128>(w[4 + i]) + v[i] + carry;
      w[4 + i] = static_cast<uint64_t>(s);
      carry = static_cast<uint64_t>(s >> 64);
    }
    w[8] += carry;
  };
  if (x[4] != 0) add_high(y);
  if (y[4] != 0) add_high(x);
  if (x[4] != 0 && y[4] != 0) w[8] += 1;
  return FieldElement(ReduceProduct(w));
}

FieldElement FieldElement::MulSmall(uint64_t m) const {
  std::array<uint64_t, 6> w{};
  uint64_t carry = 0;
  for (int i = 0; i < kLimbs; ++i) {
    const u128 t = static_cast<u128>(limbs_[i]) * m + carry;
    w[i] = static_cast<uint64_t>(t);
    carry = static_cast<uint64_t>(t >> 64);
  }
  w[5] = carry;  // the product is below 2^321, so w[5] < 2
  return FieldElement(ReduceShort(w));
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
