#ifndef COHORT_COMMON_MODEL_TRUST_H_
#define COHORT_COMMON_MODEL_TRUST_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/model.pb.h"
#include "common/crypto/ed25519.h"

namespace cohort::model {

// The verifying half of the release trust model (signing.h signs), following
// TUF's client workflow (the Update Framework specification 1.0, section
// 5): a device pins a root, follows root rotations one version at a time,
// accepts a release key only with the root's certificate, and accepts a
// manifest only when the certified release key signed it, it is for the
// device's task, it has not expired and its release number is not lower
// than one the device already accepted. Every check runs on the signed
// bytes before the manifest inside is parsed.
//
// Status codes, for every function below:
//   INVALID_ARGUMENT     malformed bytes (not the message they claim to be,
//                        a key that is not 32 bytes, a threshold outside
//                        [1, keys], too many signatures);
//   RESOURCE_EXHAUSTED   metadata over kMaxMetadataBytes;
//   UNAUTHENTICATED      a signature threshold not met: bad or missing
//                        signatures, an unknown or revoked key id, a release
//                        key the root did not certify, a manifest's key_id
//                        not the certified key's;
//   FAILED_PRECONDITION  valid but not acceptable now: expired metadata
//                        (freeze), a root version that is not current + 1,
//                        a release lower than the device holds (downgrade or
//                        replay), another task's manifest;
//   DATA_LOSS            an artifact whose size or SHA-256 differs from the
//                        manifest's.

// Largest root, certificate or manifest (serialized) accepted: 64 KiB.
inline constexpr int64_t kMaxMetadataBytes = 64 * 1024;
// Most signatures and root keys one piece of metadata may carry.
inline constexpr int kMaxSignatures = 32;

// A root the device trusts, and how it moves to the next one. Immutable
// except through Rotate; copyable.
class TrustedRoot {
 public:
  // The device's pinned root (shipped in its config). It must be signed by
  // its own threshold of its own keys.
  static absl::StatusOr<TrustedRoot> FromPinned(
      const cohort::v1::SignedRoot& pinned);

  // Moves to `next`, which must be version() + 1 and signed by this root's
  // threshold of this root's keys and by its own threshold of its own keys
  // (so a stolen minority of either set cannot rotate). A skipped or older
  // version is FAILED_PRECONDITION. On error the root is unchanged.
  // Expiry is not checked here (an old device walks expired intermediate
  // roots to reach the current one); it is checked when the root is used.
  absl::Status Rotate(const cohort::v1::SignedRoot& next);

  // The release key `certified` names, if this root certified it: this
  // root's version, this root's threshold of signatures, the key not
  // revoked, neither the root nor the certificate expired at `now`.
  absl::StatusOr<crypto::Ed25519PublicKey> VerifyReleaseKey(
      const cohort::v1::SignedReleaseKey& certified, absl::Time now) const;

  int64_t version() const { return metadata_.version(); }
  const cohort::v1::RootMetadata& metadata() const { return metadata_; }
  // The signed form, for the device to persist.
  const cohort::v1::SignedRoot& signed_root() const { return signed_; }

 private:
  TrustedRoot(cohort::v1::SignedRoot s, cohort::v1::RootMetadata m)
      : signed_(std::move(s)), metadata_(std::move(m)) {}

  cohort::v1::SignedRoot signed_;
  cohort::v1::RootMetadata metadata_;
};

// What the device expects of a manifest.
struct ManifestExpectations {
  std::string task;
  // The highest release number the device has accepted for the task (0 for
  // none). A lower release is refused; the same release again (a
  // re-download) is accepted.
  int64_t min_release = 0;
  // When the update started: expiry is judged against this time.
  absl::Time now = absl::InfinitePast();
};

// The manifest inside `signed_manifest`, if `root` certified its release
// key and everything in ManifestExpectations holds.
absl::StatusOr<cohort::v1::ModelManifest> VerifyManifest(
    const TrustedRoot& root, const cohort::v1::SignedManifest& signed_manifest,
    const ManifestExpectations& expect);

// The manifest of the release an assignment's `ref` names, as a device
// checks it: VerifyManifest on ref.manifest, then the manifest must be for
// ref's version and architecture and list the artifact ref names (same
// SHA-256 and size). UNAUTHENTICATED when `ref` carries no manifest;
// FAILED_PRECONDITION when manifest and `ref` disagree; the errors of
// VerifyManifest otherwise. The agent (ReleaseGuard) and cohort-sim both
// check assignments with it.
absl::StatusOr<cohort::v1::ModelManifest> VerifyAssignedModel(
    const TrustedRoot& root, const cohort::v1::ModelRef& ref,
    const ManifestExpectations& expect);

// Whether `artifact` is one devices download ("int8" or "fp32"), as
// opposed to an export a release also signs ("onnx"), which a device must
// never take as its model.
bool IsDeviceArtifact(const cohort::v1::ArtifactDigest& artifact);

// OK if `bytes` is the artifact of kind `kind` ("fp32", "int8") that
// `manifest` lists, by size and SHA-256. NOT_FOUND if the manifest lists no
// such artifact; DATA_LOSS on a mismatch.
absl::Status VerifyArtifact(const cohort::v1::ModelManifest& manifest,
                            absl::string_view kind, absl::string_view bytes);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_TRUST_H_
