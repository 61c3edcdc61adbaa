#ifndef COHORT_COMMON_CRYPTO_X509_H_
#define COHORT_COMMON_CRYPTO_X509_H_

// X.509 device enrollment. A device that holds a one-time enrollment token
// generates its key pair locally (GenerateDeviceKeyPem), sends a PKCS#10
// certificate signing request (MakeCsrPem), and the coordinator signs it
// with the fleet CA (IssueDeviceCertificatePem). The private key never leaves
// the device.
//
// Every value crosses this API as PEM text: keys as PKCS#8 ("BEGIN PRIVATE
// KEY"; unencrypted -- an encrypted key fails to load, it is never prompted
// for), CSRs as "BEGIN CERTIFICATE REQUEST", certificates as "BEGIN
// CERTIFICATE". Each input holds one such PEM object; text around it is
// ignored.
//
// Device keys are EC P-256 or Ed25519. The CA key may be EC, RSA or Ed25519.
// Certificates are signed with SHA-256 (Ed25519 has its own built-in hash).
// Times are whole seconds: sub-second parts are rounded down.
//
// All functions are stateless and thread-safe. Parsing is hardened against
// hostile input: malformed PEM, DER or keys give INVALID_ARGUMENT, never a
// crash. INTERNAL means OpenSSL itself failed (e.g. out of memory).

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort::crypto {

// A device id is 1 to 64 characters from [A-Za-z0-9._-]. It becomes the
// certificate's subject common name (RFC 5280's upper bound for a CN is 64).
inline constexpr size_t kMaxDeviceIdLength = 64;

// A CSR is at most this many bytes of PEM; a P-256 CSR is about 400, so the
// cap only stops a client from making the coordinator parse megabytes.
inline constexpr size_t kMaxCsrPemSize = 16 * 1024;

// Any other PEM input (keys, certificates) is at most this many bytes.
inline constexpr size_t kMaxPemInputSize = 1024 * 1024;

// OK if `id` is a device id a certificate can name: 1 to kMaxDeviceIdLength
// characters of [A-Za-z0-9._-]; INVALID_ARGUMENT saying what is wrong
// otherwise. The one rule for enrollment tokens, CSRs and certificates.
absl::Status ValidateDeviceId(absl::string_view id);

// Generates a new EC P-256 private key with OpenSSL's DRBG and returns it as
// unencrypted PKCS#8 PEM. The caller owns the secret: store it with
// owner-only permissions.
// Returns INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> GenerateDeviceKeyPem();

// A PKCS#10 CSR (version 1) for `key_pem`'s public key with subject
// CN=`device_id` and nothing else, self-signed with `key_pem` (ECDSA with
// SHA-256, or Ed25519).
// Returns INVALID_ARGUMENT if `device_id` is not a valid device id (see
// kMaxDeviceIdLength) or `key_pem` is not an unencrypted EC P-256 or Ed25519
// private key; INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> MakeCsrPem(const std::string& key_pem,
                                       const std::string& device_id);

// What a verified CSR asks for.
struct CsrInfo {
  // The subject's common name, decoded to UTF-8. Not checked against the
  // device id rules: the caller compares it with what it expects.
  std::string common_name;
};

// Parses a CSR and checks it: its self-signature verifies (proof that the
// sender holds the private key), its public key is EC P-256 or Ed25519, its
// version is 1 and its subject has exactly one common name.
// Returns INVALID_ARGUMENT, with a message naming the failed check, if
// `csr_pem` is larger than kMaxCsrPemSize, is not a PEM CSR, or fails any
// check above.
absl::StatusOr<CsrInfo> VerifyCsrPem(const std::string& csr_pem);

// What the coordinator certifies for one device.
struct IssueOptions {
  // The device the enrollment token was issued to. No default: must be set
  // to a valid device id, and the CSR's common name must equal it.
  std::string device_id;
  // Start of validity. Default: the Unix epoch, which is never what a caller
  // wants -- set it from the coordinator's clock, ideally a few minutes in
  // the past to tolerate device clock skew.
  absl::Time not_before;
  // Length of validity; the certificate expires at not_before + validity.
  // Default 90 days: shorter limits how long a stolen key is useful (there is
  // no revocation list), longer means fewer re-enrollments. Must be
  // positive, and the whole period must lie within years 1970-9999.
  absl::Duration validity = absl::Hours(24 * 90);
};

// Issues an X.509 v3 client certificate for the public key in `csr_pem`,
// signed by the CA (`ca_cert_pem`, `ca_key_pem`):
//   serial     126 random bits from OpenSSL's DRBG (positive, 16 bytes);
//   subject    CN=options.device_id (any other CSR subject field is dropped,
//              and CSR extension requests are ignored);
//   issuer     the CA certificate's subject;
//   validity   [not_before, not_before + validity];
//   extensions basicConstraints CA:FALSE (critical), keyUsage
//              digitalSignature (critical), extendedKeyUsage clientAuth,
//              subjectKeyIdentifier, authorityKeyIdentifier (the CA's key id,
//              or its issuer and serial if the CA has no key id);
//   signature  SHA-256 with an EC or RSA CA key, pure Ed25519 with an
//              Ed25519 CA key.
// Returns the certificate as PEM, or
//   INVALID_ARGUMENT if options.device_id is not a valid device id, the
//     validity is not positive or not within 1970-01-01 and
//     9999-12-31T23:59:59Z, the CSR fails VerifyCsrPem, or the CA
//     certificate or key does not parse;
//   PERMISSION_DENIED if the CSR's common name is not options.device_id (the
//     device asked for an identity its token does not grant);
//   FAILED_PRECONDITION if the CA key does not match the CA certificate or
//     the CA certificate is not a CA (basicConstraints CA:TRUE, and keyUsage
//     keyCertSign if keyUsage is present);
//   INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> IssueDeviceCertificatePem(
    const std::string& csr_pem, const std::string& ca_cert_pem,
    const std::string& ca_key_pem, const IssueOptions& options);

// The fields of a certificate that enrollment cares about.
struct CertificateInfo {
  // Subject and issuer common names, decoded to UTF-8; empty if absent.
  std::string common_name;
  std::string issuer_common_name;
  // Validity period as encoded, in whole seconds. (OpenSSL's verifier
  // treats the certificate as expired from not_after on.)
  absl::Time not_before;
  absl::Time not_after;
};

// Parses a certificate without verifying it.
// Returns INVALID_ARGUMENT if `pem` is larger than kMaxPemInputSize, is not a
// PEM certificate, its subject or issuer has more than one common name, or
// its validity dates do not parse.
absl::StatusOr<CertificateInfo> ReadCertificatePem(const std::string& pem);

// Verifies that `cert_pem` chains to `ca_cert_pem` as of time `at`: the
// signature, both certificates' validity periods at `at` (not checked when
// `at` is absl::InfiniteFuture(): whether the certificate is valid now is
// then the caller's question), the CA's
// basicConstraints and keyUsage, and the leaf's suitability for TLS client
// authentication (keyUsage, extendedKeyUsage clientAuth). `ca_cert_pem` is
// the trust anchor even if it is an intermediate, not self-signed, CA; it
// must be a CA (basicConstraints CA:TRUE), so a leaf never vouches for
// itself.
// Returns OK if it verifies; UNAUTHENTICATED with OpenSSL's verify error
// (e.g. "certificate has expired") if it does not; INVALID_ARGUMENT if either
// PEM does not parse; INTERNAL if OpenSSL fails.
absl::Status VerifyIssuedBy(const std::string& cert_pem,
                            const std::string& ca_cert_pem, absl::Time at);

// Checks that `key_pem` is the private key for `cert_pem`'s public key, e.g.
// before a device presents a stored certificate.
// Returns OK if it is; FAILED_PRECONDITION if it is not (the pair is
// unusable); INVALID_ARGUMENT if either PEM does not parse.
absl::Status KeyMatchesCertificate(const std::string& key_pem,
                                   const std::string& cert_pem);

// ---------------------------------------------------------------------------
// Test and demo PKI only. A production fleet CA is made offline, with its key
// in an HSM or at least never on the coordinator's disk in the clear.

enum class TestCaKeyType { kEcP256, kEd25519, kRsa2048 };

struct PemCertificateAndKey {
  std::string cert_pem;
  std::string key_pem;  // Unencrypted PKCS#8.
};

// A new key of `key_type` and a self-signed X.509 v3 CA certificate for it:
// subject and issuer CN=`common_name`, a random serial, validity
// [not_before, not_before + validity], basicConstraints CA:TRUE (critical),
// keyUsage keyCertSign and cRLSign (critical) and subjectKeyIdentifier.
// Returns INVALID_ARGUMENT if `common_name` is empty or longer than 64 bytes,
// or the validity is unusable (as for IssueDeviceCertificatePem); INTERNAL if
// OpenSSL fails. An RSA key takes a moment to generate.
absl::StatusOr<PemCertificateAndKey> MakeSelfSignedCaForTesting(
    const std::string& common_name, absl::Time not_before,
    absl::Duration validity, TestCaKeyType key_type = TestCaKeyType::kEcP256);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_X509_H_
