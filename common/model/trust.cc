#include "common/model/trust.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"

namespace cohort::model {
namespace {

template <typename Signed>
absl::Status CheckSize(absl::string_view what, absl::string_view bytes,
                       const Signed& s) {
  if (static_cast<int64_t>(bytes.size()) > kMaxMetadataBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, " is ", bytes.size(), " bytes, over ", kMaxMetadataBytes));
  }
  if (s.signatures_size() > kMaxSignatures) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " carries ", s.signatures_size(), " signatures, over ",
        kMaxSignatures));
  }
  return absl::OkStatus();
}

absl::Time FromMillis(int64_t ms) { return absl::FromUnixMillis(ms); }

absl::Status CheckNotExpired(absl::string_view what, int64_t expires_ms,
                             absl::Time now) {
  if (now < FromMillis(expires_ms)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, " expired at ", absl::FormatTime(FromMillis(expires_ms)),
      " (checked at ", absl::FormatTime(now), ")"));
}

// Parses and checks the shape of a root: version >= 1, 1..kMaxSignatures
// keys of 32 bytes, no key twice, 1 <= threshold <= keys.
absl::StatusOr<cohort::v1::RootMetadata> ParseRoot(
    const cohort::v1::SignedRoot& s) {
  if (absl::Status size = CheckSize("root", s.root(), s); !size.ok()) {
    return size;
  }
  cohort::v1::RootMetadata root;
  if (!root.ParseFromString(s.root())) {
    return absl::InvalidArgumentError("root: not a RootMetadata");
  }
  if (root.version() < 1 || root.keys_size() < 1 ||
      root.keys_size() > kMaxSignatures || root.threshold() < 1 ||
      root.threshold() > root.keys_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "root version ", root.version(), ": need version >= 1, 1 to ",
        kMaxSignatures, " keys and 1 <= threshold <= keys, got ",
        root.keys_size(), " keys and threshold ", root.threshold()));
  }
  for (int i = 0; i < root.keys_size(); ++i) {
    if (root.keys(i).size() != crypto::kEd25519PublicKeySize) {
      return absl::InvalidArgumentError("root: a key is not 32 bytes");
    }
    for (int j = 0; j < i; ++j) {
      if (root.keys(i) == root.keys(j)) {
        return absl::InvalidArgumentError("root: a key is listed twice");
      }
    }
  }
  return root;
}

// UNAUTHENTICATED unless `root`'s threshold of its (unrevoked) keys signed
// `bytes`.
absl::Status CheckThreshold(absl::string_view what, absl::string_view bytes,
                            const google::protobuf::RepeatedPtrField<
                                cohort::v1::Signature>& signatures,
                            const cohort::v1::RootMetadata& root) {
  const int valid = CountValidSignatures(bytes, signatures, root.keys(),
                                         root.revoked_key_ids());
  if (valid >= root.threshold()) return absl::OkStatus();
  return absl::UnauthenticatedError(absl::StrCat(
      what, ": ", valid, " valid signature(s) of distinct keys of root ",
      root.version(), ", its threshold is ", root.threshold()));
}

// UNAUTHENTICATED unless the certified release key `key` signed the
// manifest's bytes (checked before they are parsed).
absl::Status CheckManifestSignature(const cohort::v1::SignedManifest& s,
                                    const crypto::Ed25519PublicKey& key) {
  const std::string raw(key.bytes().begin(), key.bytes().end());
  google::protobuf::RepeatedPtrField<std::string> trusted;
  *trusted.Add() = raw;
  if (CountValidSignatures(s.manifest(), s.signatures(), trusted, {}) == 1) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "manifest: no valid signature by the certified release key ",
      KeyId(key)));
}

absl::Status CheckManifestFields(const cohort::v1::ModelManifest& m,
                                 const crypto::Ed25519PublicKey& key,
                                 const ManifestExpectations& expect) {
  if (m.key_id() != KeyId(key)) {
    return absl::UnauthenticatedError(
        absl::StrCat("manifest names key ", m.key_id(),
                     ", but the certified release key is ", KeyId(key)));
  }
  if (absl::Status s =
          CheckNotExpired(absl::StrCat("manifest of release ", m.release()),
                          m.expires_at_unix_ms(), expect.now);
      !s.ok()) {
    return s;
  }
  if (m.task() != expect.task) {
    return absl::FailedPreconditionError(absl::StrCat(
        "manifest is for task '", m.task(), "', not '", expect.task, "'"));
  }
  if (m.release() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: release ", m.release(), " is not >= 1"));
  }
  if (m.release() < expect.min_release) {
    return absl::FailedPreconditionError(absl::StrCat(
        "manifest of release ", m.release(), " is older than release ",
        expect.min_release, ", which this device already holds "
        "(downgrade or replay)"));
  }
  return absl::OkStatus();
}

// FAILED_PRECONDITION unless `m` is for `ref`'s version and architecture
// and lists the artifact `ref` names.
absl::Status CheckRefMatches(const cohort::v1::ModelRef& ref,
                             const cohort::v1::ModelManifest& m) {
  if (m.version() != ref.version() || m.architecture() != ref.architecture()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "release ", m.release(), " is version ", m.version(), " (",
        m.architecture(), "), the assignment names version ", ref.version(),
        " (", ref.architecture(), ")"));
  }
  for (const cohort::v1::ArtifactDigest& a : m.artifacts()) {
    if (IsDeviceArtifact(a) && a.sha256() == ref.sha256() &&
        a.size_bytes() == ref.size_bytes()) {
      return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "release ", m.release(), " lists no artifact with SHA-256 ",
      ref.sha256(), " and ", ref.size_bytes(), " bytes"));
}

}  // namespace

absl::StatusOr<TrustedRoot> TrustedRoot::FromPinned(
    const cohort::v1::SignedRoot& pinned) {
  auto root = ParseRoot(pinned);
  if (!root.ok()) return root.status();
  if (absl::Status s = CheckThreshold("pinned root", pinned.root(),
                                      pinned.signatures(), *root);
      !s.ok()) {
    return s;
  }
  return TrustedRoot(pinned, *std::move(root));
}

absl::Status TrustedRoot::Rotate(const cohort::v1::SignedRoot& next) {
  auto root = ParseRoot(next);
  if (!root.ok()) return root.status();
  if (root->version() != version() + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "root version ", root->version(), " cannot follow version ",
        version(), ": roots rotate one version at a time"));
  }
  const std::string what = absl::StrCat("root ", root->version());
  if (absl::Status s =
          CheckThreshold(what + " (old keys)", next.root(), next.signatures(),
                         metadata_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckThreshold(what + " (new keys)", next.root(),
                                      next.signatures(), *root);
      !s.ok()) {
    return s;
  }
  signed_ = next;
  metadata_ = *std::move(root);
  return absl::OkStatus();
}

absl::StatusOr<crypto::Ed25519PublicKey> TrustedRoot::VerifyReleaseKey(
    const cohort::v1::SignedReleaseKey& certified, absl::Time now) const {
  if (absl::Status s = CheckSize("release key certificate",
                                 certified.certificate(), certified);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckThreshold("release key certificate",
                                      certified.certificate(),
                                      certified.signatures(), metadata_);
      !s.ok()) {
    return s;
  }
  cohort::v1::ReleaseKeyCertificate cert;
  if (!cert.ParseFromString(certified.certificate())) {
    return absl::InvalidArgumentError("not a ReleaseKeyCertificate");
  }
  auto key = crypto::Ed25519PublicKey::FromBytes(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(cert.key().data()), cert.key().size()));
  if (!key.ok()) return key.status();
  const std::string id = KeyId(*key);
  for (const std::string& revoked : metadata_.revoked_key_ids()) {
    if (revoked == id) {
      return absl::UnauthenticatedError(
          absl::StrCat("release key ", id, " is revoked by root ", version()));
    }
  }
  if (cert.root_version() != version()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "release key ", id, " is certified by root ", cert.root_version(),
        "; the device trusts root ", version()));
  }
  if (absl::Status s = CheckNotExpired(absl::StrCat("root ", version()),
                                       metadata_.expires_at_unix_ms(), now);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckNotExpired(absl::StrCat("release key ", id),
                                       cert.expires_at_unix_ms(), now);
      !s.ok()) {
    return s;
  }
  return *key;
}

absl::StatusOr<cohort::v1::ModelManifest> VerifyManifest(
    const TrustedRoot& root, const cohort::v1::SignedManifest& signed_manifest,
    const ManifestExpectations& expect) {
  if (absl::Status s = CheckSize("manifest", signed_manifest.manifest(),
                                 signed_manifest);
      !s.ok()) {
    return s;
  }
  auto key = root.VerifyReleaseKey(signed_manifest.release_key(), expect.now);
  if (!key.ok()) return key.status();
  if (absl::Status s = CheckManifestSignature(signed_manifest, *key);
      !s.ok()) {
    return s;
  }
  cohort::v1::ModelManifest manifest;
  if (!manifest.ParseFromString(signed_manifest.manifest())) {
    return absl::InvalidArgumentError("manifest: not a ModelManifest");
  }
  if (absl::Status s = CheckManifestFields(manifest, *key, expect); !s.ok()) {
    return s;
  }
  return manifest;
}

absl::StatusOr<cohort::v1::ModelManifest> VerifyAssignedModel(
    const TrustedRoot& root, const cohort::v1::ModelRef& ref,
    const ManifestExpectations& expect) {
  if (!ref.has_manifest()) {
    return absl::UnauthenticatedError(
        "the assigned model comes without a signed manifest");
  }
  auto m = VerifyManifest(root, ref.manifest(), expect);
  if (!m.ok()) return m.status();
  if (absl::Status s = CheckRefMatches(ref, *m); !s.ok()) return s;
  return m;
}

bool IsDeviceArtifact(const cohort::v1::ArtifactDigest& artifact) {
  return artifact.kind() == "int8" || artifact.kind() == "fp32";
}

absl::Status VerifyArtifact(const cohort::v1::ModelManifest& manifest,
                            absl::string_view kind, absl::string_view bytes) {
  for (const cohort::v1::ArtifactDigest& a : manifest.artifacts()) {
    if (a.kind() != kind) continue;
    const std::string sha =
        crypto::Sha256Hex(std::string_view(bytes.data(), bytes.size()));
    if (a.size_bytes() != static_cast<int64_t>(bytes.size()) ||
        a.sha256() != sha) {
      return absl::DataLossError(absl::StrCat(
          kind, " artifact of release ", manifest.release(), ": ",
          bytes.size(), " bytes with SHA-256 ", sha, ", the manifest says ",
          a.size_bytes(), " bytes with SHA-256 ", a.sha256()));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("release ", manifest.release(),
                                          " lists no ", kind, " artifact"));
}

}  // namespace cohort::model
