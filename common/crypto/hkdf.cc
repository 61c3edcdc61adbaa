#include "common/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

constexpr size_t kHashLength = 32;

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// This thread's HMAC-SHA256 context: fetched and given its digest once per
// thread, then re-keyed by every call. Looking a digest up by name takes
// OpenSSL 3.0's global name-map lock; done per derivation (as EVP_KDF's HKDF
// needs, since its context cannot be copied), it serialised the threads of
// a SecAgg+ unmasking, which derives one key per pairwise mask.
EVP_MAC_CTX* ThreadHmacSha256() {
  thread_local const std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx = [] {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (mac == nullptr) return std::unique_ptr<EVP_MAC_CTX, MacCtxFree>();
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> c(EVP_MAC_CTX_new(mac));
    EVP_MAC_free(mac);  // the context keeps its own reference
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (c != nullptr && EVP_MAC_CTX_set_params(c.get(), params) != 1) c.reset();
    return c;
  }();
  return ctx.get();
}

// HMAC-SHA256(key, the concatenation of `parts`) into `out`.
absl::Status Hmac(absl::Span<const uint8_t> key,
                  std::initializer_list<absl::Span<const uint8_t>> parts,
                  uint8_t out[kHashLength]) {
  EVP_MAC_CTX* ctx = ThreadHmacSha256();
  if (ctx == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "HMAC-SHA256 unavailable");
  }
  // A key of zero bytes still needs a non-null pointer to be set.
  static constexpr uint8_t kNoKey[1] = {0};
  if (EVP_MAC_init(ctx, key.empty() ? kNoKey : key.data(), key.size(),
                   nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "HMAC init failed");
  }
  for (absl::Span<const uint8_t> part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "HMAC update failed");
    }
  }
  size_t written = 0;
  if (EVP_MAC_final(ctx, out, &written, kHashLength) != 1 ||
      written != kHashLength) {
    return OpenSslError(absl::StatusCode::kInternal, "HMAC final failed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> HkdfSha256(absl::Span<const uint8_t> ikm,
                                                absl::Span<const uint8_t> salt,
                                                absl::Span<const uint8_t> info,
                                                size_t length) {
  if (ikm.empty()) return absl::InvalidArgumentError("HKDF: empty input key");
  if (length == 0 || length > kHkdfSha256MaxLength) {
    return absl::InvalidArgumentError(
        "HKDF-SHA256: length must be in [1, 8160], got " +
        std::to_string(length));
  }
  // Extract: PRK = HMAC(salt, IKM); an empty salt is HashLen zero bytes.
  static constexpr uint8_t kZeroSalt[kHashLength] = {};
  uint8_t prk[kHashLength];
  COHORT_RETURN_IF_ERROR(
      Hmac(salt.empty() ? absl::Span<const uint8_t>(kZeroSalt) : salt, {ikm},
           prk));
  // Expand: T(i) = HMAC(PRK, T(i-1) | info | i), OKM = T(1) | T(2) | ...
  std::vector<uint8_t> out(length);
  uint8_t block[kHashLength];
  size_t done = 0;
  for (uint8_t i = 1; done < length; ++i) {
    const uint8_t counter[1] = {i};
    const absl::Span<const uint8_t> previous =
        i == 1 ? absl::Span<const uint8_t>() : absl::MakeConstSpan(block);
    COHORT_RETURN_IF_ERROR(Hmac(prk, {previous, info, counter}, block));
    const size_t n = std::min(kHashLength, length - done);
    std::copy(block, block + n, out.begin() + done);
    done += n;
  }
  OPENSSL_cleanse(prk, sizeof(prk));
  OPENSSL_cleanse(block, sizeof(block));
  return out;
}

}  // namespace cohort::crypto
