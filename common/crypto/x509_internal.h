#ifndef COHORT_COMMON_CRYPTO_X509_INTERNAL_H_
#define COHORT_COMMON_CRYPTO_X509_INTERNAL_H_

// PEM/DER codecs and small OpenSSL X.509 helpers behind common/crypto/x509.h.
// Not part of the public API: callers outside common/crypto should not
// include this. Every parser is safe on hostile input and reports it as
// INVALID_ARGUMENT with a message that starts with `what`.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort::crypto::internal {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using NamePtr = std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using ReqPtr = std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// Reads the first PEM block of `pem`, which may be at most `max_size` bytes
// (<= INT_MAX). An encrypted private key is refused, never prompted for.
// Returns INVALID_ARGUMENT if `pem` is too large or holds no such object.
absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(const std::string& pem,
                                           size_t max_size,
                                           absl::string_view what);
absl::StatusOr<X509Ptr> ParseCertificatePem(const std::string& pem,
                                            size_t max_size,
                                            absl::string_view what);
absl::StatusOr<ReqPtr> ParseCsrPem(const std::string& pem, size_t max_size,
                                   absl::string_view what);

// PEM encoders; the key is written as unencrypted PKCS#8.
// Return INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> PrivateKeyToPem(const EVP_PKEY* key);
absl::StatusOr<std::string> CertificateToPem(const X509* cert);
absl::StatusOr<std::string> CsrToPem(const X509_REQ* req);

// True for an EC key on the named curve P-256 (explicit curve parameters are
// not recognised).
bool IsEcP256(const EVP_PKEY* key);
// True for Ed25519 and Ed448, which sign without a separate digest.
bool IsEdDsa(const EVP_PKEY* key);

// A name with one UTF-8 common name and nothing else.
// Returns INVALID_ARGUMENT if OpenSSL refuses the string (e.g. empty or over
// 64 characters).
absl::StatusOr<NamePtr> CommonNameOnly(const std::string& common_name);

// The common name of `name` as UTF-8; "" if it has none.
// Returns INVALID_ARGUMENT if it has more than one (which one a relying
// party reads would then be up to its library) or it cannot be decoded.
absl::StatusOr<std::string> SingleCommonName(const X509_NAME* name,
                                             absl::string_view what);

// An X.509 UTCTime or GeneralizedTime as an absl::Time (whole seconds).
// Returns INVALID_ARGUMENT if `time` is null or malformed.
absl::StatusOr<absl::Time> ToAbslTime(const ASN1_TIME* time,
                                      absl::string_view what);

}  // namespace cohort::crypto::internal

#endif  // COHORT_COMMON_CRYPTO_X509_INTERNAL_H_
