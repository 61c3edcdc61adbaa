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

// The root files at `paths`, each read and parsed.
absl::StatusOr<std::vector<cohort::v1::SignedRoot>> ReadRoots(
    const std::vector<std::string>& paths) {
  std::vector<cohort::v1::SignedRoot> roots;
  for (const std::string& path : paths) {
    COHORT_ASSIGN_OR_RETURN(std::string bytes,
                            base::ReadFile(path, model::kMaxMetadataBytes));
    if (!roots.emplace_back().ParseFromString(bytes)) {
      return absl::InvalidArgumentError(path + ": not a SignedRoot");
    }
  }
  return roots;
}

// FAILED_PRECONDITION unless `roots` rotate one into the next and the
// newest certified `cert` (nothing to check without roots).
absl::Status CheckRootChain(const std::vector<cohort::v1::SignedRoot>& roots,
                            const cohort::v1::ReleaseKeyCertificate& cert) {
  if (roots.empty()) return absl::OkStatus();
  auto chain = model::TrustedRoot::FromPinned(roots.front());
  for (size_t i = 1; chain.ok() && i < roots.size(); ++i) {
    if (absl::Status s = chain->Rotate(roots[i]); !s.ok()) chain = s;
  }
  if (!chain.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "signing.root_paths do not form a rotation chain: ",
        chain.status().message()));
  }
  if (cert.root_version() != chain->version()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the release key certificate is from root ", cert.root_version(),
        ", the newest root in signing.root_paths is ", chain->version(),
        ": certify the key again with `cohortctl keys certify`"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReleaseSigner>> ReleaseSigner::Load(
    const std::string& key_path, const std::string& certificate_path,
    const std::vector<std::string>& root_paths) {
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
  COHORT_ASSIGN_OR_RETURN(auto roots, ReadRoots(root_paths));
  return Create(*std::move(key), std::move(certificate), std::move(roots));
}

absl::StatusOr<std::unique_ptr<ReleaseSigner>> ReleaseSigner::Create(
    crypto::Ed25519PrivateKey key, cohort::v1::SignedReleaseKey certificate,
    std::vector<cohort::v1::SignedRoot> roots) {
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
  COHORT_RETURN_IF_ERROR(CheckRootChain(roots, cert));
  return std::unique_ptr<ReleaseSigner>(new ReleaseSigner(
      std::move(key), std::move(certificate), std::move(roots)));
}

ReleaseSigner::ReleaseSigner(crypto::Ed25519PrivateKey key,
                             cohort::v1::SignedReleaseKey certificate,
                             std::vector<cohort::v1::SignedRoot> roots)
    : key_(std::move(key)),
      certificate_(std::move(certificate)),
      roots_(std::move(roots)),
      key_id_(model::KeyId(key_.PublicKey())) {}

cohort::v1::SignedManifest ReleaseSigner::Sign(
    const cohort::v1::ModelManifest& manifest) const {
  cohort::v1::SignedManifest out =
      model::SignManifest(manifest, key_, certificate_);
  for (const auto& root : roots_) *out.add_roots() = root;
  return out;
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
