#include "common/crypto/aes_gcm.h"

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

AesGcmKey Key(std::string_view hex) {
  return AesGcmKey::FromBytes(Hex(hex)).value();
}

struct Vector {
  std::string_view key, nonce, plaintext, aad, ciphertext, tag;
};

// "The Galois/Counter Mode of Operation (GCM)", McGrew and Viega, test cases
// 13, 14 and 16 (the 256-bit-key cases with 96-bit IVs).
const Vector kVectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcmTest, SealMatchesGcmSpecVectors) {
  for (const Vector& v : kVectors) {
    auto sealed =
        AesGcmSeal(Key(v.key), Hex(v.nonce), Hex(v.plaintext), Hex(v.aad));
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_EQ(BytesToHex(*sealed),
              std::string(v.ciphertext) + std::string(v.tag));
  }
}

TEST(AesGcmTest, OpenMatchesGcmSpecVectors) {
  for (const Vector& v : kVectors) {
    auto sealed = Hex(std::string(v.ciphertext) + std::string(v.tag));
    auto opened = AesGcmOpen(Key(v.key), Hex(v.nonce), sealed, Hex(v.aad));
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(BytesToHex(*opened), v.plaintext);
  }
}

class AesGcmTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = Key(kVectors[2].key).bytes();
    sealed_ =
        AesGcmSeal(AesGcmKey::FromBytes(key_).value(), nonce_, plaintext_, aad_)
            .value();
  }

  absl::Status OpenStatus(absl::Span<const uint8_t> key,
                          absl::Span<const uint8_t> nonce,
                          absl::Span<const uint8_t> sealed,
                          absl::Span<const uint8_t> aad) {
    return AesGcmOpen(AesGcmKey::FromBytes(key).value(), nonce, sealed, aad)
        .status();
  }

  static void ExpectAuthFailure(const absl::Status& status) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(status.message(), "AES-GCM authentication failed");
  }

  std::vector<uint8_t> nonce_ = Hex("cafebabefacedbaddecaf888");
  std::vector<uint8_t> plaintext_ = Hex("00112233445566778899aabbccddeeff0102");
  std::vector<uint8_t> aad_ = Hex("feedfacedeadbeef");
  std::array<uint8_t, kAesGcmKeySize> key_{};
  std::vector<uint8_t> sealed_;
};

TEST_F(AesGcmTamperTest, UntouchedOpens) {
  EXPECT_TRUE(OpenStatus(key_, nonce_, sealed_, aad_).ok());
}

TEST_F(AesGcmTamperTest, EveryCiphertextAndTagBitFlipFails) {
  ASSERT_EQ(sealed_.size(), plaintext_.size() + kAesGcmTagSize);
  for (size_t i = 0; i < sealed_.size(); ++i) {
    for (int bit : {0, 7}) {
      auto bad = sealed_;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      ExpectAuthFailure(OpenStatus(key_, nonce_, bad, aad_));
    }
  }
}

TEST_F(AesGcmTamperTest, EveryAssociatedDataByteMatters) {
  for (size_t i = 0; i < aad_.size(); ++i) {
    auto bad = aad_;
    bad[i] ^= 0x01;
    ExpectAuthFailure(OpenStatus(key_, nonce_, sealed_, bad));
  }
  ExpectAuthFailure(OpenStatus(key_, nonce_, sealed_, {}));
  auto longer = aad_;
  longer.push_back(0);
  ExpectAuthFailure(OpenStatus(key_, nonce_, sealed_, longer));
}

TEST_F(AesGcmTamperTest, WrongNonceOrKeyFails) {
  for (size_t i = 0; i < nonce_.size(); ++i) {
    auto bad = nonce_;
    bad[i] ^= 0x80;
    ExpectAuthFailure(OpenStatus(key_, bad, sealed_, aad_));
  }
  auto bad_key = key_;
  bad_key[31] ^= 0x01;
  ExpectAuthFailure(OpenStatus(bad_key, nonce_, sealed_, aad_));
}

TEST_F(AesGcmTamperTest, TruncatedOrExtendedInputFails) {
  for (size_t len = kAesGcmTagSize; len < sealed_.size(); ++len) {
    ExpectAuthFailure(OpenStatus(
        key_, nonce_, absl::MakeConstSpan(sealed_).subspan(0, len), aad_));
  }
  auto longer = sealed_;
  longer.push_back(0);
  ExpectAuthFailure(OpenStatus(key_, nonce_, longer, aad_));
  EXPECT_EQ(OpenStatus(key_, nonce_,
                       absl::MakeConstSpan(sealed_).subspan(0, 15), aad_)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AesGcmTest, RoundTripsRandomMessages) {
  testing::FakeRandom random(5);
  for (size_t len : {0u, 1u, 15u, 16u, 17u, 1000u, 70000u}) {
    auto key = AesGcmKey::Generate(random);
    ASSERT_TRUE(key.ok());
    std::vector<uint8_t> nonce(kAesGcmNonceSize), msg(len), aad(len % 7);
    ASSERT_TRUE(random.Fill(absl::MakeSpan(nonce)).ok());
    ASSERT_TRUE(random.Fill(absl::MakeSpan(msg)).ok());
    ASSERT_TRUE(random.Fill(absl::MakeSpan(aad)).ok());
    auto sealed = AesGcmSeal(*key, nonce, msg, aad);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_EQ(sealed->size(), len + kAesGcmTagSize);
    auto opened = AesGcmOpen(*key, nonce, *sealed, aad);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, msg);
  }
}

TEST(AesGcmTest, BadSizesAreInvalidArgument) {
  EXPECT_EQ(AesGcmKey::FromBytes(std::vector<uint8_t>(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const AesGcmKey key = AesGcmKey::FromBytes(std::vector<uint8_t>(32)).value();
  EXPECT_EQ(AesGcmSeal(key, std::vector<uint8_t>(16), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      AesGcmOpen(key, std::vector<uint8_t>(8), std::vector<uint8_t>(32), {})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::crypto
