#include "common/crypto/sha256.h"

#include <openssl/evp.h>

#include "common/crypto/hex.h"
#include "glog/logging.h"

namespace cohort::crypto {

std::array<uint8_t, kSha256Size> Sha256(std::string_view data) {
  std::array<uint8_t, kSha256Size> digest;
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; that is a broken invariant.
  CHECK_EQ(EVP_Digest(data.data(), data.size(), digest.data(), &len,
                      EVP_sha256(), nullptr),
           1);
  CHECK_EQ(len, kSha256Size);
  return digest;
}

std::string Sha256Hex(std::string_view data) {
  return BytesToHex(Sha256(data));
}

uint64_t Sha256Prefix64(std::string_view data) {
  const std::array<uint8_t, kSha256Size> digest = Sha256(data);
  uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | digest[i];
  return prefix;
}

}  // namespace cohort::crypto
