#include "common/secagg/field_element.h"

#include <array>
#include <cstdint>
#include <vector>

#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::secagg {
namespace {

using Limbs = FieldElement::Limbs;

FieldElement RandomElement(base::SplitMix64& rng) {
  Limbs l;
  for (auto& v : l) v = rng.Next();
  return FieldElement::FromLimbsReduced(l);
}

// Independent multiplication: double-and-add using only field addition.
FieldElement SlowMul(const FieldElement& a, const FieldElement& b) {
  FieldElement acc;
  for (int i = FieldElement::kLimbs * 64; i-- > 0;) {
    acc = acc + acc;
    if ((b.limbs()[i / 64] >> (i % 64)) & 1) acc = acc + a;
  }
  return acc;
}

Limbs PrimeMinus(uint64_t v) {
  Limbs p = FieldElement::Prime();
  p[0] -= v;  // kPrimeOffset = 297 > v, no borrow
  return p;
}

TEST(FieldElementTest, PrimeIsPrimeByMillerRabin) {
  // p - 1 = 2^s * d with d odd.
  Limbs d = PrimeMinus(1);
  int s = 0;
  while ((d[0] & 1) == 0) {
    for (int i = 0; i < FieldElement::kLimbs; ++i) {
      d[i] = (d[i] >> 1) | (i + 1 < FieldElement::kLimbs ? d[i + 1] << 63 : 0);
    }
    ++s;
  }
  ASSERT_GT(s, 0);
  const FieldElement minus_one = FieldElement::Zero() - FieldElement::One();
  for (uint64_t base : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43}) {
    FieldElement x = FieldElement(base).Pow(d);
    if (x == FieldElement::One() || x == minus_one) continue;
    bool witness_passed = false;
    for (int r = 1; r < s; ++r) {
      x = x * x;
      if (x == minus_one) {
        witness_passed = true;
        break;
      }
    }
    EXPECT_TRUE(witness_passed) << "base " << base << " proves p composite";
  }
}

TEST(FieldElementTest, FermatIdentityHoldsForRandomElements) {
  base::SplitMix64 rng(1);
  for (int i = 0; i < 20; ++i) {
    FieldElement a = RandomElement(rng);
    if (a.IsZero()) continue;
    EXPECT_EQ(a.Pow(PrimeMinus(1)), FieldElement::One());
  }
}

TEST(FieldElementTest, MulMatchesIndependentDoubleAndAdd) {
  base::SplitMix64 rng(2);
  for (int i = 0; i < 200; ++i) {
    FieldElement a = RandomElement(rng), b = RandomElement(rng);
    EXPECT_EQ(a * b, SlowMul(a, b));
  }
  // Edge values: p-1 squared is 1.
  const FieldElement minus_one = FieldElement::Zero() - FieldElement::One();
  EXPECT_EQ(minus_one * minus_one, FieldElement::One());
  EXPECT_EQ(minus_one * minus_one, SlowMul(minus_one, minus_one));
}

// Elements at or above 2^256 (limb 4 set) take extra paths in operator*;
// random limbs reduced mod p almost never land there.
std::vector<FieldElement> HighElements() {
  std::vector<FieldElement> v;
  for (uint64_t off : {1, 2, 5, 100, 296, 297}) {
    v.push_back(FieldElement::FromLimbsReduced(PrimeMinus(off)));
  }
  return v;
}

TEST(FieldElementTest, MulOfHighElementsMatchesDoubleAndAdd) {
  base::SplitMix64 rng(7);
  const auto high = HighElements();
  for (const FieldElement& a : high) {
    EXPECT_EQ(a.limbs()[4], 1u);  // p - 297 = 2^256 is the smallest such
    for (const FieldElement& b : high) EXPECT_EQ(a * b, SlowMul(a, b));
    for (int i = 0; i < 20; ++i) {
      const FieldElement r = RandomElement(rng);
      EXPECT_EQ(a * r, SlowMul(a, r));
      EXPECT_EQ(r * a, SlowMul(a, r));
    }
  }
  // 2^256 = -297, so (2^256)^2 = 297^2.
  const FieldElement two256 = FieldElement::FromLimbsReduced(PrimeMinus(297));
  EXPECT_EQ(two256 * two256, FieldElement(297 * 297));
}

TEST(FieldElementTest, MulSmallMatchesFullMultiplication) {
  base::SplitMix64 rng(8);
  std::vector<FieldElement> values = HighElements();
  for (int i = 0; i < 200; ++i) values.push_back(RandomElement(rng));
  for (const FieldElement& a : values) {
    for (uint64_t m : {uint64_t{0}, uint64_t{1}, uint64_t{297}, rng.Next(),
                       ~uint64_t{0}}) {
      EXPECT_EQ(a.MulSmall(m), a * FieldElement(m)) << m;
    }
  }
}

TEST(FieldElementTest, RingAxiomsAndInverse) {
  base::SplitMix64 rng(3);
  for (int i = 0; i < 200; ++i) {
    FieldElement a = RandomElement(rng), b = RandomElement(rng),
                 c = RandomElement(rng);
    EXPECT_EQ(a + b, b + a);
    EXPECT_EQ((a + b) - b, a);
    EXPECT_EQ(a * (b + c), a * b + a * c);
    EXPECT_EQ((a * b) * c, a * (b * c));
    if (!a.IsZero()) {
      EXPECT_EQ(a * a.Inverse(), FieldElement::One());
    }
  }
}

TEST(FieldElementTest, KnownAnswers) {
  // 2^256 = -297 (mod p), so 2^128 * 2^128 + 297 = 0.
  Limbs two128{0, 0, 1, 0, 0};
  FieldElement x = FieldElement::FromLimbsReduced(two128);
  EXPECT_TRUE((x * x + FieldElement(297)).IsZero());
  EXPECT_EQ(FieldElement::FromLimbsReduced(FieldElement::Prime()),
            FieldElement::Zero());
  EXPECT_EQ(FieldElement(2).Inverse() * FieldElement(2), FieldElement::One());
}

TEST(FieldElementTest, BytesRoundTripAndRangeChecks) {
  base::SplitMix64 rng(4);
  for (int i = 0; i < 100; ++i) {
    FieldElement a = RandomElement(rng);
    auto bytes = a.ToBytes();
    auto back = FieldElement::FromBytes(bytes);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, a);
  }
  std::array<uint8_t, 32> secret;
  for (auto& b : secret) b = static_cast<uint8_t>(rng.Next());
  auto e = FieldElement::FromSecretBytes(secret);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e->ToSecretBytes(), secret);
  // p itself and values above are rejected; p - 1 is accepted.
  auto p_bytes = FieldElement::FromLimbsReduced(PrimeMinus(1)).ToBytes();
  EXPECT_TRUE(FieldElement::FromBytes(p_bytes).ok());
  p_bytes[32] += 1;
  EXPECT_FALSE(FieldElement::FromBytes(p_bytes).ok());
  EXPECT_EQ(FieldElement::FromLimbsReduced(PrimeMinus(1))
                .ToSecretBytes()
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(FieldElement::FromSecretBytes(std::vector<uint8_t>(31)).ok());
  EXPECT_FALSE(FieldElement::FromBytes(std::vector<uint8_t>(32)).ok());
}

}  // namespace
}  // namespace cohort::secagg
