#include "common/crypto/ed25519.h"

#include <string_view>
#include <vector>

#include "common/crypto/hex.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_random.h"

namespace cohort::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  return HexToBytes(hex).value();
}

std::vector<uint8_t> Bytes(std::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

struct Vector {
  std::string_view secret, public_key, message, signature;
};

// RFC 8032 section 7.1, TEST 1, TEST 2 and TEST 3.
const Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb88215"
     "90a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e4"
     "3e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b53"
     "8d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(Ed25519Test, Rfc8032KnownAnswers) {
  for (const Vector& v : kVectors) {
    auto key = Ed25519PrivateKey::FromSeed(Hex(v.secret));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(BytesToHex(key->PublicKey().bytes()), v.public_key);
    const Ed25519Signature sig = key->Sign(Hex(v.message));
    EXPECT_EQ(BytesToHex(sig.bytes()), v.signature);
  }
}

TEST(Ed25519Test, Rfc8032SignaturesVerifyAgainstPublishedKeys) {
  for (const Vector& v : kVectors) {
    auto pub = Ed25519PublicKey::FromBytes(Hex(v.public_key));
    auto sig = Ed25519Signature::FromBytes(Hex(v.signature));
    ASSERT_TRUE(pub.ok() && sig.ok());
    EXPECT_TRUE(pub->Verify(Hex(v.message), *sig).ok());
  }
}

TEST(Ed25519Test, TamperedSignatureOrMessageIsUnauthenticated) {
  testing::FakeRandom random(11);
  auto key = Ed25519PrivateKey::Generate(random);
  ASSERT_TRUE(key.ok());
  const auto msg = Bytes("model v7 sha256=...");
  const Ed25519Signature sig = key->Sign(msg);
  ASSERT_TRUE(key->PublicKey().Verify(msg, sig).ok());
  for (size_t i = 0; i < kEd25519SignatureSize; ++i) {
    auto bad = sig.bytes();
    bad[i] ^= 0x01;
    auto status =
        key->PublicKey().Verify(msg, Ed25519Signature::FromBytes(bad).value());
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << i;
  }
  auto bad_msg = msg;
  bad_msg.back() ^= 0x20;
  EXPECT_EQ(key->PublicKey().Verify(bad_msg, sig).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(key->PublicKey().Verify({}, sig).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(Ed25519Test, WrongKeyIsUnauthenticated) {
  testing::FakeRandom random(12);
  auto a = Ed25519PrivateKey::Generate(random);
  auto b = Ed25519PrivateKey::Generate(random);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->PublicKey(), b->PublicKey());
  const auto msg = Bytes("hello");
  EXPECT_EQ(b->PublicKey().Verify(msg, a->Sign(msg)).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(Ed25519Test, HostileKeysAndSignaturesNeverCrash) {
  const auto msg = Bytes("x");
  const auto good_sig =
      Ed25519Signature::FromBytes(Hex(kVectors[0].signature)).value();
  // All-ones is not a valid point encoding; all-zero signature has a bogus R.
  for (uint8_t fill : {0x00, 0xff}) {
    auto pub = Ed25519PublicKey::FromBytes(std::vector<uint8_t>(32, fill));
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(pub->Verify(msg, good_sig).code(),
              absl::StatusCode::kUnauthenticated);
    auto sig = Ed25519Signature::FromBytes(std::vector<uint8_t>(64, fill));
    ASSERT_TRUE(sig.ok());
    auto real = Ed25519PublicKey::FromBytes(Hex(kVectors[0].public_key));
    EXPECT_EQ(real->Verify(msg, *sig).code(),
              absl::StatusCode::kUnauthenticated);
  }
}

TEST(Ed25519Test, SigningIsDeterministicAndGenerateUsesRandom) {
  testing::FakeRandom r1(13), r2(13);
  auto a = Ed25519PrivateKey::Generate(r1);
  auto b = Ed25519PrivateKey::Generate(r2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->seed(), b->seed());
  EXPECT_EQ(a->Sign(Bytes("m")), b->Sign(Bytes("m")));
  EXPECT_NE(a->Sign(Bytes("m")), a->Sign(Bytes("n")));
  r1.FailNextFill();
  EXPECT_EQ(Ed25519PrivateKey::Generate(r1).status().code(),
            absl::StatusCode::kInternal);
}

TEST(Ed25519Test, WrongSizesAreInvalidArgument) {
  EXPECT_EQ(
      Ed25519PrivateKey::FromSeed(std::vector<uint8_t>(64)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Ed25519PublicKey::FromBytes(std::vector<uint8_t>(31)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Ed25519Signature::FromBytes(std::vector<uint8_t>(63)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::crypto
