#include "common/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string_view>
#include <thread>
#include <vector>

#include "common/crypto/hex.h"
#include "gtest/gtest.h"

namespace cohort::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  return HexToBytes(hex).value();
}

std::vector<uint8_t> Range(int start, int count) {
  std::vector<uint8_t> out(count);
  for (int i = 0; i < count; ++i) out[i] = static_cast<uint8_t>(start + i);
  return out;
}

TEST(HkdfSha256Test, Rfc5869TestCase1) {
  auto okm = HkdfSha256(std::vector<uint8_t>(22, 0x0b),
                        Hex("000102030405060708090a0b0c"),
                        Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(BytesToHex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(HkdfSha256Test, Rfc5869TestCase2) {
  auto okm = HkdfSha256(Range(0x00, 80), Range(0x60, 80), Range(0xb0, 80), 82);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(BytesToHex(*okm),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

TEST(HkdfSha256Test, Rfc5869TestCase3EmptySaltAndInfo) {
  auto okm = HkdfSha256(std::vector<uint8_t>(22, 0x0b), {}, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(BytesToHex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
}

TEST(HkdfSha256Test, ShorterOutputIsPrefix) {
  const auto ikm = Range(1, 32);
  auto long_okm = HkdfSha256(ikm, {}, Range(9, 3), 100);
  auto short_okm = HkdfSha256(ikm, {}, Range(9, 3), 10);
  ASSERT_TRUE(long_okm.ok() && short_okm.ok());
  EXPECT_EQ(std::vector<uint8_t>(long_okm->begin(), long_okm->begin() + 10),
            *short_okm);
}

TEST(HkdfSha256Test, InfoSeparatesKeys) {
  const auto ikm = Range(1, 32);
  auto a = HkdfSha256(ikm, {}, Range(0, 1), 32);
  auto b = HkdfSha256(ikm, {}, Range(1, 1), 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(HkdfSha256Test, MaximumLengthIsAllowed) {
  auto okm = HkdfSha256(Range(1, 32), {}, {}, kHkdfSha256MaxLength);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(okm->size(), 8160u);
}

TEST(HkdfSha256Test, BadArgumentsAreInvalidArgument) {
  EXPECT_EQ(HkdfSha256(Range(1, 32), {}, {}, kHkdfSha256MaxLength + 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(Range(1, 32), {}, {}, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256({}, {}, {}, 32).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// OpenSSL's own HKDF (EVP_KDF), the reference for the HMAC-based one.
std::vector<uint8_t> OpenSslHkdf(const std::vector<uint8_t>& ikm,
                                 std::vector<uint8_t> salt,
                                 std::vector<uint8_t> info, size_t length) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  std::vector<uint8_t> key = ikm;
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.data(), key.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  std::vector<uint8_t> out(length);
  EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  return out;
}

// Every output length around a block boundary and the maximum, with and
// without salt and info, long keys (longer than SHA-256's 64-byte block,
// which HMAC hashes first) included.
TEST(HkdfSha256Test, MatchesOpenSslsHkdf) {
  for (size_t length : {size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{64},
                        size_t{65}, size_t{1000}, kHkdfSha256MaxLength}) {
    for (int shape = 0; shape < 4; ++shape) {
      const auto ikm = Range(shape * 7, shape == 3 ? 100 : 32);
      const auto salt = shape & 1 ? Range(0x40, shape == 3 ? 90 : 16)
                                  : std::vector<uint8_t>();
      const auto info = shape & 2 ? Range(0x90, 20) : std::vector<uint8_t>();
      auto okm = HkdfSha256(ikm, salt, info, length);
      ASSERT_TRUE(okm.ok()) << okm.status();
      EXPECT_EQ(*okm, OpenSslHkdf(ikm, salt, info, length))
          << "length " << length << " shape " << shape;
    }
  }
}

// Each thread keeps its own HMAC context: threads deriving at once get what
// one thread gets.
TEST(HkdfSha256Test, ThreadsDeriveWhatOneThreadDerives) {
  constexpr int kThreads = 4, kKeys = 200;
  auto derive = [](int t, int k) {
    return HkdfSha256(Range(t, 32), Range(k, 8), Range(t + k, 5), 32).value();
  };
  std::vector<std::vector<std::vector<uint8_t>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kKeys; ++k) got[t].push_back(derive(t, k));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kKeys; ++k) ASSERT_EQ(got[t][k], derive(t, k)) << t << " " << k;
  }
}

}  // namespace
}  // namespace cohort::crypto
