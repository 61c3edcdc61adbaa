#include "common/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)>;

// OSSL_PARAM wants non-const pointers even for inputs it only reads.
void* Mutable(absl::Span<const uint8_t> bytes) {
  return const_cast<uint8_t*>(bytes.data());
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
  // Fetched once: finding the provider's HKDF costs more than deriving a
  // 32-byte key. (OpenSSL 3.0 cannot copy an HKDF context, so the digest
  // is still named per call.)
  static EVP_KDF* const kHkdf =
      EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
  if (kHkdf == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "HKDF unavailable");
  }
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kHkdf), &EVP_KDF_CTX_free);
  if (ctx == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_KDF_CTX_new failed");
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  Mutable(ikm), ikm.size());
  // OpenSSL ignores a zero-length salt or info, which matches RFC 5869's
  // defaults; leaving them out makes that explicit.
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    Mutable(salt), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    Mutable(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  std::vector<uint8_t> out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "HKDF derivation failed");
  }
  return out;
}

}  // namespace cohort::crypto
