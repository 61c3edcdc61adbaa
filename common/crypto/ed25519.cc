#include "common/crypto/ed25519.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>

#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"
#include "glog/logging.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> ToArray(absl::Span<const uint8_t> in,
                                               const char* what) {
  if (in.size() != N) {
    return absl::InvalidArgumentError(std::string(what) + " must be " +
                                      std::to_string(N) + " bytes, got " +
                                      std::to_string(in.size()));
  }
  std::array<uint8_t, N> out;
  std::copy(in.begin(), in.end(), out.begin());
  return out;
}

}  // namespace

absl::StatusOr<Ed25519Signature> Ed25519Signature::FromBytes(
    absl::Span<const uint8_t> bytes) {
  COHORT_ASSIGN_OR_RETURN(
      auto sig, ToArray<kEd25519SignatureSize>(bytes, "Ed25519 signature"));
  return Ed25519Signature(sig);
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromBytes(
    absl::Span<const uint8_t> bytes) {
  COHORT_ASSIGN_OR_RETURN(
      auto key, ToArray<kEd25519PublicKeySize>(bytes, "Ed25519 public key"));
  return Ed25519PublicKey(key);
}

absl::Status Ed25519PublicKey::Verify(absl::Span<const uint8_t> message,
                                      const Ed25519Signature& signature) const {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                           bytes_.data(), bytes_.size()),
               &EVP_PKEY_free);
  if (pkey == nullptr) {
    internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError(
        "Ed25519 signature verification failed: unusable public key");
  }
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (ctx == nullptr ||
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                              pkey.get(), nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "Ed25519 verify setup failed");
  }
  // Returns 1 for a valid signature, 0 for an invalid one and a negative value
  // for a malformed one (e.g. S out of range, R or A not on the curve).
  if (EVP_DigestVerify(ctx.get(), signature.bytes().data(),
                       signature.bytes().size(), message.data(),
                       message.size()) != 1) {
    internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError("Ed25519 signature verification failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate(
    SecureRandom& random) {
  std::array<uint8_t, kEd25519SeedSize> seed;
  COHORT_RETURN_IF_ERROR(random.Fill(absl::MakeSpan(seed)));
  auto key = FromSeed(seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return key;
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(
    absl::Span<const uint8_t> seed) {
  COHORT_ASSIGN_OR_RETURN(auto bytes,
                          ToArray<kEd25519SeedSize>(seed, "Ed25519 seed"));
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                            bytes.data(), bytes.size()),
               &EVP_PKEY_free);
  std::array<uint8_t, kEd25519PublicKeySize> pub;
  size_t pub_len = pub.size();
  if (pkey == nullptr ||
      EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &pub_len) != 1 ||
      pub_len != pub.size()) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot load Ed25519 private key");
  }
  Ed25519PrivateKey key(bytes, Ed25519PublicKey(pub));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

Ed25519PrivateKey::~Ed25519PrivateKey() {
  OPENSSL_cleanse(seed_.data(), seed_.size());
}

Ed25519Signature Ed25519PrivateKey::Sign(
    absl::Span<const uint8_t> message) const {
  // The seed was validated by FromSeed, so a failure below can only be an
  // allocation failure: a broken invariant, not a caller error.
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                            seed_.data(), seed_.size()),
               &EVP_PKEY_free);
  CHECK(pkey != nullptr) << "EVP_PKEY_new_raw_private_key failed";
  MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
  CHECK_EQ(EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                                 pkey.get(), nullptr),
           1);
  std::array<uint8_t, kEd25519SignatureSize> sig;
  size_t sig_len = sig.size();
  CHECK_EQ(EVP_DigestSign(ctx.get(), sig.data(), &sig_len, message.data(),
                          message.size()),
           1);
  CHECK_EQ(sig_len, sig.size());
  return Ed25519Signature(sig);
}

}  // namespace cohort::crypto
