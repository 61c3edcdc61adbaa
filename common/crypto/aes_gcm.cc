#include "common/crypto/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

using CipherPtr = std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)>;
using CipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// EVP_*Update take int lengths; larger inputs go through in pieces.
constexpr size_t kMaxUpdate = size_t{1} << 30;

absl::Status CheckNonce(absl::Span<const uint8_t> nonce) {
  if (nonce.size() != kAesGcmNonceSize) {
    return absl::InvalidArgumentError("AES-GCM nonce must be 12 bytes, got " +
                                      std::to_string(nonce.size()));
  }
  return absl::OkStatus();
}

// Encrypting or decrypting (`encrypt` = 1 / 0) context keyed and nonced.
absl::StatusOr<CipherCtxPtr> NewContext(const AesGcmKey& key,
                                        absl::Span<const uint8_t> nonce,
                                        int encrypt) {
  CipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr),
                   &EVP_CIPHER_free);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (cipher == nullptr || ctx == nullptr ||
      EVP_CipherInit_ex(ctx.get(), cipher.get(), nullptr, nullptr, nullptr,
                        encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                          static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.bytes().data(),
                        nonce.data(), encrypt) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "AES-GCM setup failed");
  }
  return ctx;
}

// Runs `in` through the context into `out` (nullptr for associated data).
bool Update(EVP_CIPHER_CTX* ctx, absl::Span<const uint8_t> in, uint8_t* out) {
  for (size_t off = 0; off < in.size(); off += kMaxUpdate) {
    const int n = static_cast<int>(std::min(kMaxUpdate, in.size() - off));
    int written = 0;
    if (EVP_CipherUpdate(ctx, out == nullptr ? nullptr : out + off, &written,
                         in.data() + off, n) != 1) {
      return false;
    }
    // GCM is a stream mode: OpenSSL emits output for every input byte.
    if (out != nullptr && written != n) return false;
  }
  return true;
}

}  // namespace

AesGcmKey::AesGcmKey(absl::Span<const uint8_t> bytes) {
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}

AesGcmKey::~AesGcmKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

absl::StatusOr<AesGcmKey> AesGcmKey::FromBytes(
    absl::Span<const uint8_t> bytes) {
  if (bytes.size() != kAesGcmKeySize) {
    return absl::InvalidArgumentError("AES-256-GCM key must be 32 bytes, got " +
                                      std::to_string(bytes.size()));
  }
  return AesGcmKey(bytes);
}

absl::StatusOr<AesGcmKey> AesGcmKey::Generate(SecureRandom& random) {
  std::array<uint8_t, kAesGcmKeySize> bytes;
  COHORT_RETURN_IF_ERROR(random.Fill(absl::MakeSpan(bytes)));
  AesGcmKey key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

absl::StatusOr<std::vector<uint8_t>> AesGcmSeal(
    const AesGcmKey& key, absl::Span<const uint8_t> nonce,
    absl::Span<const uint8_t> plaintext,
    absl::Span<const uint8_t> associated_data) {
  COHORT_RETURN_IF_ERROR(CheckNonce(nonce));
  COHORT_ASSIGN_OR_RETURN(CipherCtxPtr ctx, NewContext(key, nonce, 1));
  std::vector<uint8_t> out(plaintext.size() + kAesGcmTagSize);
  int final_len = 0;
  if (!Update(ctx.get(), associated_data, nullptr) ||
      !Update(ctx.get(), plaintext, out.data()) ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + plaintext.size(),
                          &final_len) != 1 ||
      final_len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAesGcmTagSize,
                          out.data() + plaintext.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "AES-GCM seal failed");
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> AesGcmOpen(
    const AesGcmKey& key, absl::Span<const uint8_t> nonce,
    absl::Span<const uint8_t> sealed,
    absl::Span<const uint8_t> associated_data) {
  COHORT_RETURN_IF_ERROR(CheckNonce(nonce));
  if (sealed.size() < kAesGcmTagSize) {
    return absl::InvalidArgumentError(
        "AES-GCM input shorter than the 16-byte tag");
  }
  const size_t text_len = sealed.size() - kAesGcmTagSize;
  COHORT_ASSIGN_OR_RETURN(CipherCtxPtr ctx, NewContext(key, nonce, 0));
  std::vector<uint8_t> out(text_len);
  // The tag ctrl takes a non-const pointer but only reads it.
  uint8_t tag[kAesGcmTagSize];
  std::copy(sealed.end() - kAesGcmTagSize, sealed.end(), tag);
  if (!Update(ctx.get(), associated_data, nullptr) ||
      !Update(ctx.get(), sealed.first(text_len), out.data()) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAesGcmTagSize,
                          tag) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "AES-GCM open failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + text_len, &final_len) != 1) {
    internal::ClearOpenSslErrors();
    OPENSSL_cleanse(out.data(), out.size());
    return absl::UnauthenticatedError("AES-GCM authentication failed");
  }
  return out;
}

}  // namespace cohort::crypto
