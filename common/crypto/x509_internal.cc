#include "common/crypto/x509_internal.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <ctime>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto::internal {
namespace {

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kInternal = absl::StatusCode::kInternal;

// A NULL callback would make OpenSSL prompt on the terminal for an encrypted
// PEM; a server must fail instead of blocking on stdin.
int RefusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/,
                     void* /*userdata*/) {
  return -1;
}

absl::StatusOr<BioPtr> ReadOnlyBio(const std::string& pem, size_t max_size,
                                   absl::string_view what) {
  if (pem.size() > max_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is too large: ", pem.size(), " bytes, limit ", max_size));
  }
  // Callers keep max_size within INT_MAX, so the cast cannot truncate.
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
             &BIO_free);
  if (bio == nullptr) return OpenSslError(kInternal, "BIO_new_mem_buf failed");
  return bio;
}

BioPtr NewMemoryBio() { return BioPtr(BIO_new(BIO_s_mem()), &BIO_free); }

absl::StatusOr<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) {
    return OpenSslError(kInternal, "PEM encoding produced no output");
  }
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(const std::string& pem,
                                           size_t max_size,
                                           absl::string_view what) {
  COHORT_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem, max_size, what));
  PkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, &RefusePassphrase, nullptr),
      &EVP_PKEY_free);
  if (key == nullptr) {
    return OpenSslError(
        kInvalid, absl::StrCat(what, " is not an unencrypted PEM private key"));
  }
  return key;
}

absl::StatusOr<X509Ptr> ParseCertificatePem(const std::string& pem,
                                            size_t max_size,
                                            absl::string_view what) {
  COHORT_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem, max_size, what));
  X509Ptr cert(
      PEM_read_bio_X509(bio.get(), nullptr, &RefusePassphrase, nullptr),
      &X509_free);
  if (cert == nullptr) {
    return OpenSslError(kInvalid,
                        absl::StrCat(what, " is not a PEM certificate"));
  }
  return cert;
}

absl::StatusOr<ReqPtr> ParseCsrPem(const std::string& pem, size_t max_size,
                                   absl::string_view what) {
  COHORT_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem, max_size, what));
  ReqPtr req(
      PEM_read_bio_X509_REQ(bio.get(), nullptr, &RefusePassphrase, nullptr),
      &X509_REQ_free);
  if (req == nullptr) {
    return OpenSslError(
        kInvalid,
        absl::StrCat(what, " is not a PEM certificate signing request"));
  }
  return req;
}

absl::StatusOr<std::string> PrivateKeyToPem(const EVP_PKEY* key) {
  BioPtr bio = NewMemoryBio();
  if (bio == nullptr ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                    nullptr, nullptr) != 1) {
    return OpenSslError(kInternal, "cannot PEM-encode private key");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> CertificateToPem(const X509* cert) {
  BioPtr bio = NewMemoryBio();
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(kInternal, "cannot PEM-encode certificate");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> CsrToPem(const X509_REQ* req) {
  BioPtr bio = NewMemoryBio();
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), req) != 1) {
    return OpenSslError(kInternal, "cannot PEM-encode CSR");
  }
  return BioContents(bio.get());
}

bool IsEcP256(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[80];
  size_t group_len = 0;
  // Fails for explicit curve parameters, which are refused with the rest.
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1) {
    ClearOpenSslErrors();
    return false;
  }
  int nid = OBJ_sn2nid(group);                           // "prime256v1"
  if (nid == NID_undef) nid = EC_curve_nist2nid(group);  // "P-256"
  return nid == NID_X9_62_prime256v1;
}

bool IsEdDsa(const EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "ED25519") == 1 || EVP_PKEY_is_a(key, "ED448") == 1;
}

absl::StatusOr<NamePtr> CommonNameOnly(const std::string& common_name) {
  NamePtr name(X509_NAME_new(), &X509_NAME_free);
  if (name == nullptr) return OpenSslError(kInternal, "X509_NAME_new failed");
  if (X509_NAME_add_entry_by_NID(
          name.get(), NID_commonName, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.data()),
          static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslError(kInvalid, "cannot encode the common name");
  }
  return name;
}

absl::StatusOr<std::string> SingleCommonName(const X509_NAME* name,
                                             absl::string_view what) {
  if (name == nullptr) return std::string();
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return std::string();
  if (X509_NAME_get_index_by_NID(name, NID_commonName, index) >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has more than one common name"));
  }
  const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, index);
  const ASN1_STRING* data =
      entry == nullptr ? nullptr : X509_NAME_ENTRY_get_data(entry);
  unsigned char* utf8 = nullptr;
  const int len = data == nullptr ? -1 : ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    return OpenSslError(kInvalid,
                        absl::StrCat(what, " common name does not decode"));
  }
  std::string common_name(reinterpret_cast<const char*>(utf8),
                          static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return common_name;
}

absl::StatusOr<absl::Time> ToAbslTime(const ASN1_TIME* time,
                                      absl::string_view what) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return OpenSslError(kInvalid, absl::StrCat(what, " is not a valid time"));
  }
  return absl::FromCivil(
      absl::CivilSecond(parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                        parts.tm_hour, parts.tm_min, parts.tm_sec),
      absl::UTCTimeZone());
}

}  // namespace cohort::crypto::internal
