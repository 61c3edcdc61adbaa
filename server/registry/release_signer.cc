#include "server/registry/release_signer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/hex.h"
#include "common/model/signing.h"
#include "common/model/trust.h"

namespace cohort::server {
namespace {

std::string RawKey(const crypto::Ed25519PublicKey& key) {
  return std::string(key.bytes().begin(), key.bytes().end());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReleaseSigner>> ReleaseSigner::Load(
    const std::string& key_path, const std::string& certificate_path) {
  COHORT_ASSIGN_OR_RETURN(std::string hex, base::ReadFile(key_path, 1024));
  const absl::string_view trimmed = absl::StripAsciiWhitespace(hex);
  auto seed =
      crypto::HexToBytes(std::string_view(trimmed.data(), trimmed.size()));
  if (!seed.ok()) {
    return absl::InvalidArgumentError(key_path + ": not a hex Ed25519 seed");
  }
  auto key = crypto::Ed25519PrivateKey::FromSeed(*seed);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, ": ", key.status().message()));
  }
  COHORT_ASSIGN_OR_RETURN(
      std::string cert_bytes,
      base::ReadFile(certificate_path, model::kMaxMetadataBytes));
  cohort::v1::SignedReleaseKey certificate;
  if (!certificate.ParseFromString(cert_bytes)) {
    return absl::InvalidArgumentError(certificate_path +
                                      ": not a SignedReleaseKey");
  }
  return Create(*std::move(key), std::move(certificate));
}

absl::StatusOr<std::unique_ptr<ReleaseSigner>> ReleaseSigner::Create(
    crypto::Ed25519PrivateKey key, cohort::v1::SignedReleaseKey certificate) {
  cohort::v1::ReleaseKeyCertificate cert;
  if (!cert.ParseFromString(certificate.certificate())) {
    return absl::InvalidArgumentError("not a ReleaseKeyCertificate");
  }
  if (cert.key() != RawKey(key.PublicKey())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the release key certificate is for key ", model::KeyId(cert.key()),
        ", the release key is ", model::KeyId(key.PublicKey()),
        ": certify this key with `cohortctl keys certify`"));
  }
  return std::unique_ptr<ReleaseSigner>(
      new ReleaseSigner(std::move(key), std::move(certificate)));
}

ReleaseSigner::ReleaseSigner(crypto::Ed25519PrivateKey key,
                             cohort::v1::SignedReleaseKey certificate)
    : key_(std::move(key)),
      certificate_(std::move(certificate)),
      key_id_(model::KeyId(key_.PublicKey())) {}

cohort::v1::SignedManifest ReleaseSigner::Sign(
    const cohort::v1::ModelManifest& manifest) const {
  return model::SignManifest(manifest, key_, certificate_);
}

absl::StatusOr<bool> ReleaseSigner::IsSignedByThisKey(
    const cohort::v1::SignedManifest& signed_manifest) const {
  cohort::v1::ReleaseKeyCertificate cert;
  cohort::v1::ModelManifest manifest;
  google::protobuf::RepeatedPtrField<std::string> signer;
  if (cert.ParseFromString(signed_manifest.release_key().certificate())) {
    *signer.Add() = cert.key();
  }
  if (model::CountValidSignatures(signed_manifest.manifest(),
                                  signed_manifest.signatures(), signer,
                                  {}) != 1 ||
      !manifest.ParseFromString(signed_manifest.manifest()) ||
      manifest.key_id() != model::KeyId(cert.key())) {
    return absl::DataLossError(
        "a stored release manifest does not verify under the release key "
        "it names: the store was altered");
  }
  return cert.key() == RawKey(key_.PublicKey());
}

}  // namespace cohort::server
