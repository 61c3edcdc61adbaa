#include "common/crypto/x25519.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/base/status_macros.h"
#include "common/crypto/openssl_util.h"

namespace cohort::crypto {
namespace {

using internal::OpenSslError;

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

absl::Status CheckSize(absl::Span<const uint8_t> bytes, const char* what) {
  if (bytes.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(std::string(what) +
                                      " must be 32 bytes, got " +
                                      std::to_string(bytes.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<X25519PublicKey> X25519PublicKey::FromBytes(
    absl::Span<const uint8_t> bytes) {
  COHORT_RETURN_IF_ERROR(CheckSize(bytes, "X25519 public key"));
  std::array<uint8_t, kX25519KeySize> key;
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return X25519PublicKey(key);
}

absl::StatusOr<X25519PrivateKey> X25519PrivateKey::Generate(
    SecureRandom& random) {
  std::array<uint8_t, kX25519KeySize> bytes;
  COHORT_RETURN_IF_ERROR(random.Fill(absl::MakeSpan(bytes)));
  auto key = FromBytes(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

absl::StatusOr<X25519PrivateKey> X25519PrivateKey::FromBytes(
    absl::Span<const uint8_t> bytes) {
  COHORT_RETURN_IF_ERROR(CheckSize(bytes, "X25519 private key"));
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                            bytes.data(), bytes.size()),
               &EVP_PKEY_free);
  if (pkey == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot load X25519 private key");
  }
  std::array<uint8_t, kX25519KeySize> pub;
  size_t pub_len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &pub_len) != 1 ||
      pub_len != pub.size()) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot derive X25519 public key");
  }
  std::array<uint8_t, kX25519KeySize> priv;
  std::copy(bytes.begin(), bytes.end(), priv.begin());
  X25519PrivateKey key(
      priv, X25519PublicKey(pub),
      std::shared_ptr<EVP_PKEY>(pkey.release(), &EVP_PKEY_free));
  OPENSSL_cleanse(priv.data(), priv.size());
  return key;
}

X25519PrivateKey::~X25519PrivateKey() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

absl::StatusOr<std::array<uint8_t, kX25519SharedSecretSize>>
X25519PrivateKey::ComputeSharedSecret(const X25519PublicKey& peer) const {
  COHORT_ASSIGN_OR_RETURN(X25519PeerKey loaded, X25519PeerKey::Load(peer));
  COHORT_ASSIGN_OR_RETURN(X25519Agreements agreements,
                          X25519Agreements::Create(*this));
  return agreements.With(loaded);
}

absl::StatusOr<X25519PeerKey> X25519PeerKey::Load(const X25519PublicKey& key) {
  std::shared_ptr<EVP_PKEY> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, key.bytes().data(),
                                  key.bytes().size()),
      &EVP_PKEY_free);
  if (pkey == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot load X25519 public key");
  }
  return X25519PeerKey(std::move(pkey));
}

absl::StatusOr<X25519Agreements> X25519Agreements::Create(
    const X25519PrivateKey& own) {
  if (own.pkey_ == nullptr) {
    return absl::InternalError("X25519 private key is not loaded");
  }
  std::shared_ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(own.pkey_.get(), nullptr),
                                    &EVP_PKEY_CTX_free);
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot initialise X25519 derivation");
  }
  return X25519Agreements(own.pkey_, std::move(ctx));
}

absl::StatusOr<std::array<uint8_t, kX25519SharedSecretSize>>
X25519Agreements::With(const X25519PeerKey& peer) {
  // validate_peer = 0: for an X25519 public key OpenSSL 3.0's check only
  // confirms that a public key is present, which X25519PeerKey::Load
  // guarantees, yet the check creates a context by fetching the key type
  // by name, a lookup under OpenSSL's global store lock on every call (5%
  // of a SecAgg+ unmasking thread's time, and a lock its threads share).
  // Low-order peer keys are refused below, where they show.
  if (EVP_PKEY_derive_set_peer_ex(ctx_.get(), peer.pkey_.get(),
                                  /*validate_peer=*/0) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "X25519 peer key rejected");
  }
  std::array<uint8_t, kX25519SharedSecretSize> secret{};
  size_t len = secret.size();
  // OpenSSL itself fails the derivation when the result is all zeros (a
  // low-order peer point), so a failure here means a bad peer key.
  if (EVP_PKEY_derive(ctx_.get(), secret.data(), &len) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "X25519 derivation failed: low-order peer key");
  }
  if (len != secret.size()) {
    return absl::InternalError("X25519 derivation returned a short secret");
  }
  // Belt and braces in case a provider does not make that check.
  static constexpr std::array<uint8_t, kX25519SharedSecretSize> kZero{};
  if (CRYPTO_memcmp(secret.data(), kZero.data(), secret.size()) == 0) {
    return absl::InvalidArgumentError(
        "X25519 shared secret is all zeros: low-order peer key");
  }
  return secret;
}

}  // namespace cohort::crypto
