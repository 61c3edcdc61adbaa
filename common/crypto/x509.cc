#include "common/crypto/x509.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"
#include "common/crypto/secure_random.h"
#include "common/crypto/x509_internal.h"

namespace cohort::crypto {
namespace {

using internal::ClearOpenSslErrors;
using internal::NamePtr;
using internal::OpenSslError;
using internal::PkeyPtr;
using internal::ReqPtr;
using internal::X509Ptr;

using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)>;
using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;

constexpr absl::StatusCode kInternal = absl::StatusCode::kInternal;

constexpr size_t kSerialBytes = 16;

// 9999-12-31T23:59:59Z, the last date X.509's GeneralizedTime can hold.
constexpr int64_t kLatestX509UnixSeconds = 253402300799;

struct ExtensionSpec {
  int nid;
  const char* value;  // In openssl.cnf syntax.
};

constexpr ExtensionSpec kDeviceExtensions[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "clientAuth"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid,issuer"},
};

constexpr ExtensionSpec kCaExtensions[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
};

absl::StatusOr<PkeyPtr> ParsePrivateKey(const std::string& pem,
                                        absl::string_view what) {
  return internal::ParsePrivateKeyPem(pem, kMaxPemInputSize, what);
}

absl::StatusOr<X509Ptr> ParseCertificate(const std::string& pem,
                                         absl::string_view what) {
  return internal::ParseCertificatePem(pem, kMaxPemInputSize, what);
}

absl::Status CheckDeviceKeyType(const EVP_PKEY* key, absl::string_view what) {
  if (internal::IsEcP256(key) || EVP_PKEY_is_a(key, "ED25519") == 1) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " must be EC P-256 or Ed25519"));
}

// EdDSA hashes the message itself, so X509_sign must be given no digest.
const EVP_MD* SigningDigest(const EVP_PKEY* key) {
  return internal::IsEdDsa(key) ? nullptr : EVP_sha256();
}

absl::Status ValidateValidity(absl::Time not_before, absl::Duration validity) {
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validity must be positive, got ", absl::FormatDuration(validity)));
  }
  // OpenSSL would write a malformed date past year 9999 rather than fail.
  // Infinite times and durations land outside the range too.
  const absl::Time not_after = not_before + validity;
  if (not_before < absl::UnixEpoch() ||
      not_after > absl::FromUnixSeconds(kLatestX509UnixSeconds)) {
    return absl::InvalidArgumentError(
        "validity must lie within 1970-01-01 and 9999-12-31T23:59:59Z");
  }
  return absl::OkStatus();
}

struct VerifiedCsr {
  ReqPtr req;
  std::string common_name;
};

absl::StatusOr<VerifiedCsr> ParseVerifiedCsr(const std::string& csr_pem) {
  COHORT_ASSIGN_OR_RETURN(
      ReqPtr req, internal::ParseCsrPem(csr_pem, kMaxCsrPemSize, "CSR"));
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) {
    return absl::InvalidArgumentError("CSR version is not 1");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());  // Owned by `req`.
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "CSR public key does not parse");
  }
  COHORT_RETURN_IF_ERROR(CheckDeviceKeyType(key, "CSR public key"));
  // 1 is a valid signature; 0 a wrong one; -1 a malformed one.
  if (X509_REQ_verify(req.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "CSR self-signature does not verify");
  }
  COHORT_ASSIGN_OR_RETURN(
      std::string common_name,
      internal::SingleCommonName(X509_REQ_get_subject_name(req.get()),
                                 "CSR subject"));
  if (common_name.empty()) {
    return absl::InvalidArgumentError("CSR subject has no common name");
  }
  return VerifiedCsr{std::move(req), std::move(common_name)};
}

absl::Status SetRandomSerial(X509* cert) {
  std::array<uint8_t, kSerialBytes> bytes;
  OpenSslRandom random;
  COHORT_RETURN_IF_ERROR(random.Fill(absl::MakeSpan(bytes)));
  // Clear the top bit and set the next: positive, never zero, and always
  // kSerialBytes long in DER (RFC 5280 allows up to 20 octets).
  bytes[0] = static_cast<uint8_t>((bytes[0] & 0x7f) | 0x40);
  BnPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr),
           &BN_free);
  if (bn == nullptr ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError(kInternal, "cannot set the certificate serial");
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before,
                         absl::Duration validity) {
  COHORT_RETURN_IF_ERROR(ValidateValidity(not_before, validity));
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime from then
  // on, as RFC 5280 requires.
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert),
                    absl::ToTimeT(not_before + validity)) == nullptr) {
    return OpenSslError(kInternal, "cannot set the certificate validity");
  }
  return absl::OkStatus();
}

// What device and CA certificates share; extensions are added separately.
struct CertificateFields {
  const X509_NAME* subject;
  const X509_NAME* issuer;
  EVP_PKEY* public_key;
  absl::Time not_before;
  absl::Duration validity;
};

absl::StatusOr<X509Ptr> NewCertificate(const CertificateFields& fields) {
  X509Ptr cert(X509_new(), &X509_free);
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), fields.subject) != 1 ||
      X509_set_issuer_name(cert.get(), fields.issuer) != 1 ||
      X509_set_pubkey(cert.get(), fields.public_key) != 1) {
    return OpenSslError(kInternal, "cannot build certificate");
  }
  COHORT_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  COHORT_RETURN_IF_ERROR(
      SetValidity(cert.get(), fields.not_before, fields.validity));
  return cert;
}

// `issuer` is `cert` itself for a self-signed certificate. The subject key
// identifier hashes `cert`'s public key, so that must already be set.
absl::Status AddExtensions(X509* issuer, X509* cert,
                           absl::Span<const ExtensionSpec> specs) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (const ExtensionSpec& spec : specs) {
    ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, spec.nid, spec.value),
               &X509_EXTENSION_free);
    if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
      return OpenSslError(kInternal, absl::StrCat("cannot add extension ",
                                                  OBJ_nid2sn(spec.nid)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignToPem(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, SigningDigest(key)) <= 0) {
    return OpenSslError(kInternal, "cannot sign certificate");
  }
  return internal::CertificateToPem(cert);
}

absl::Status CheckUsableCa(X509* ca_cert, const EVP_PKEY* ca_key) {
  if (X509_check_private_key(ca_cert, ca_key) != 1) {
    return OpenSslError(absl::StatusCode::kFailedPrecondition,
                        "CA private key does not match the CA certificate");
  }
  // 1 means basicConstraints CA:TRUE (and keyCertSign if keyUsage is
  // present); the other non-zero values are legacy v1 or Netscape CAs.
  if (X509_check_ca(ca_cert) != 1) {
    ClearOpenSslErrors();
    return absl::FailedPreconditionError(
        "CA certificate is not a CA (needs basicConstraints CA:TRUE)");
  }
  return absl::OkStatus();
}

// Takes ownership of a freshly generated key (null if generation failed).
absl::StatusOr<PkeyPtr> OwnGeneratedKey(EVP_PKEY* generated) {
  PkeyPtr key(generated, &EVP_PKEY_free);
  if (key == nullptr) return OpenSslError(kInternal, "key generation failed");
  return key;
}

absl::StatusOr<PkeyPtr> GenerateTestCaKey(TestCaKeyType key_type) {
  switch (key_type) {
    case TestCaKeyType::kEd25519:
      return OwnGeneratedKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case TestCaKeyType::kRsa2048:
      return OwnGeneratedKey(EVP_RSA_gen(2048));
    case TestCaKeyType::kEcP256:
      break;
  }
  return OwnGeneratedKey(EVP_EC_gen("P-256"));
}

}  // namespace

absl::Status ValidateDeviceId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxDeviceIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("device id must be 1 to ", kMaxDeviceIdLength,
                     " characters, got ", id.size()));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "device id has a character outside [A-Za-z0-9._-] at position ", i));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GenerateDeviceKeyPem() {
  COHORT_ASSIGN_OR_RETURN(PkeyPtr key, OwnGeneratedKey(EVP_EC_gen("P-256")));
  return internal::PrivateKeyToPem(key.get());
}

absl::StatusOr<std::string> MakeCsrPem(const std::string& key_pem,
                                       const std::string& device_id) {
  COHORT_RETURN_IF_ERROR(ValidateDeviceId(device_id));
  COHORT_ASSIGN_OR_RETURN(PkeyPtr key, ParsePrivateKey(key_pem, "device key"));
  COHORT_RETURN_IF_ERROR(CheckDeviceKeyType(key.get(), "device key"));
  COHORT_ASSIGN_OR_RETURN(NamePtr subject, internal::CommonNameOnly(device_id));
  ReqPtr req(X509_REQ_new(), &X509_REQ_free);
  if (req == nullptr ||
      X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), SigningDigest(key.get())) <= 0) {
    return OpenSslError(kInternal, "cannot build CSR");
  }
  return internal::CsrToPem(req.get());
}

absl::StatusOr<CsrInfo> VerifyCsrPem(const std::string& csr_pem) {
  COHORT_ASSIGN_OR_RETURN(VerifiedCsr csr, ParseVerifiedCsr(csr_pem));
  return CsrInfo{std::move(csr.common_name)};
}

absl::StatusOr<std::string> IssueDeviceCertificatePem(
    const std::string& csr_pem, const std::string& ca_cert_pem,
    const std::string& ca_key_pem, const IssueOptions& options) {
  COHORT_RETURN_IF_ERROR(ValidateDeviceId(options.device_id));
  COHORT_ASSIGN_OR_RETURN(VerifiedCsr csr, ParseVerifiedCsr(csr_pem));
  if (csr.common_name != options.device_id) {
    // The CSR's name is attacker-chosen, so only the expected one is echoed.
    return absl::PermissionDeniedError(absl::StrCat(
        "CSR common name does not match device id ", options.device_id));
  }
  COHORT_ASSIGN_OR_RETURN(X509Ptr ca_cert,
                          ParseCertificate(ca_cert_pem, "CA certificate"));
  COHORT_ASSIGN_OR_RETURN(PkeyPtr ca_key,
                          ParsePrivateKey(ca_key_pem, "CA private key"));
  COHORT_RETURN_IF_ERROR(CheckUsableCa(ca_cert.get(), ca_key.get()));
  COHORT_ASSIGN_OR_RETURN(NamePtr subject,
                          internal::CommonNameOnly(options.device_id));
  COHORT_ASSIGN_OR_RETURN(
      X509Ptr cert,
      NewCertificate({.subject = subject.get(),
                      .issuer = X509_get_subject_name(ca_cert.get()),
                      .public_key = X509_REQ_get0_pubkey(csr.req.get()),
                      .not_before = options.not_before,
                      .validity = options.validity}));
  COHORT_RETURN_IF_ERROR(
      AddExtensions(ca_cert.get(), cert.get(), kDeviceExtensions));
  return SignToPem(cert.get(), ca_key.get());
}

absl::StatusOr<CertificateInfo> ReadCertificatePem(const std::string& pem) {
  COHORT_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(pem, "certificate"));
  CertificateInfo info;
  COHORT_ASSIGN_OR_RETURN(
      info.common_name,
      internal::SingleCommonName(X509_get_subject_name(cert.get()), "subject"));
  COHORT_ASSIGN_OR_RETURN(
      info.issuer_common_name,
      internal::SingleCommonName(X509_get_issuer_name(cert.get()), "issuer"));
  COHORT_ASSIGN_OR_RETURN(
      info.not_before,
      internal::ToAbslTime(X509_get0_notBefore(cert.get()), "notBefore"));
  COHORT_ASSIGN_OR_RETURN(
      info.not_after,
      internal::ToAbslTime(X509_get0_notAfter(cert.get()), "notAfter"));
  return info;
}

absl::Status VerifyIssuedBy(const std::string& cert_pem,
                            const std::string& ca_cert_pem, absl::Time at) {
  COHORT_ASSIGN_OR_RETURN(X509Ptr cert,
                          ParseCertificate(cert_pem, "certificate"));
  COHORT_ASSIGN_OR_RETURN(X509Ptr ca_cert,
                          ParseCertificate(ca_cert_pem, "CA certificate"));
  // With X509_V_FLAG_PARTIAL_CHAIN below, a leaf passed as its own "CA"
  // would be trusted as is.
  if (X509_check_ca(ca_cert.get()) != 1) {
    ClearOpenSslErrors();
    return absl::UnauthenticatedError(
        "certificate does not verify against the CA: the CA certificate is "
        "not a CA");
  }
  // Declared after the certificates and the store: the context is destroyed
  // first, as it refers to all three.
  StorePtr store(X509_STORE_new(), &X509_STORE_free);
  StoreCtxPtr ctx(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  if (store == nullptr || ctx == nullptr ||
      X509_STORE_add_cert(store.get(), ca_cert.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
    return OpenSslError(kInternal, "cannot set up certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (at == absl::InfiniteFuture()) {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
  } else {
    X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(at));
  }
  // Lets an intermediate (not self-signed) fleet CA be the trust anchor.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ClearOpenSslErrors();
    return absl::UnauthenticatedError(
        absl::StrCat("certificate does not verify against the CA: ",
                     X509_verify_cert_error_string(error)));
  }
  return absl::OkStatus();
}

absl::Status KeyMatchesCertificate(const std::string& key_pem,
                                   const std::string& cert_pem) {
  COHORT_ASSIGN_OR_RETURN(PkeyPtr key, ParsePrivateKey(key_pem, "private key"));
  COHORT_ASSIGN_OR_RETURN(X509Ptr cert,
                          ParseCertificate(cert_pem, "certificate"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ClearOpenSslErrors();
    return absl::FailedPreconditionError(
        "private key does not match the certificate's public key");
  }
  return absl::OkStatus();
}

absl::StatusOr<PemCertificateAndKey> MakeSelfSignedCaForTesting(
    const std::string& common_name, absl::Time not_before,
    absl::Duration validity, TestCaKeyType key_type) {
  if (common_name.empty() || common_name.size() > kMaxDeviceIdLength) {
    return absl::InvalidArgumentError("CA common name must be 1 to 64 bytes");
  }
  COHORT_ASSIGN_OR_RETURN(PkeyPtr key, GenerateTestCaKey(key_type));
  COHORT_ASSIGN_OR_RETURN(NamePtr name, internal::CommonNameOnly(common_name));
  COHORT_ASSIGN_OR_RETURN(X509Ptr cert,
                          NewCertificate({.subject = name.get(),
                                          .issuer = name.get(),
                                          .public_key = key.get(),
                                          .not_before = not_before,
                                          .validity = validity}));
  COHORT_RETURN_IF_ERROR(AddExtensions(cert.get(), cert.get(), kCaExtensions));
  PemCertificateAndKey ca;
  COHORT_ASSIGN_OR_RETURN(ca.cert_pem, SignToPem(cert.get(), key.get()));
  COHORT_ASSIGN_OR_RETURN(ca.key_pem, internal::PrivateKeyToPem(key.get()));
  return ca;
}

}  // namespace cohort::crypto
