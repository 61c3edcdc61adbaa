#ifndef COHORT_SERVER_REGISTRY_RELEASE_SIGNER_H_
#define COHORT_SERVER_REGISTRY_RELEASE_SIGNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "common/crypto/ed25519.h"

namespace cohort::server {

// The coordinator's online release key and the root's certificate of it
// (written by `cohortctl keys certify`). Signs manifests; never sees a root
// key. Immutable and thread-safe.
class ReleaseSigner {
 public:
  // Reads the hex Ed25519 seed at `key_path` and the SignedReleaseKey at
  // `certificate_path`. NOT_FOUND for a missing file; INVALID_ARGUMENT for
  // a malformed one; FAILED_PRECONDITION, naming both key ids, when the
  // certificate is for another key (e.g. a rotation half done).
  // `root_paths` (may be empty) are public root files after the first,
  // oldest first: each must verify as the successor of the one before, and
  // the certificate must come from the newest (FAILED_PRECONDITION
  // otherwise).
  static absl::StatusOr<std::unique_ptr<ReleaseSigner>> Load(
      const std::string& key_path, const std::string& certificate_path,
      const std::vector<std::string>& root_paths = {});

  // FAILED_PRECONDITION when `certificate` is not for `key`.
  static absl::StatusOr<std::unique_ptr<ReleaseSigner>> Create(
      crypto::Ed25519PrivateKey key, cohort::v1::SignedReleaseKey certificate,
      std::vector<cohort::v1::SignedRoot> roots = {});

  // `manifest` with key_id set, signed, with the certificate and the root
  // rotations attached.
  cohort::v1::SignedManifest Sign(const cohort::v1::ModelManifest& manifest) const;

  // The coordinator's check of a release it reads back from its store
  // before serving it: true if this key signed it, false if a valid
  // signature by the key its own certificate names signed it (a release key
  // used before a rotation: re-release it under this key), DATA_LOSS if
  // neither (the store was altered).
  absl::StatusOr<bool> IsSignedByThisKey(
      const cohort::v1::SignedManifest& signed_manifest) const;

  const std::string& key_id() const { return key_id_; }

 private:
  ReleaseSigner(crypto::Ed25519PrivateKey key,
                cohort::v1::SignedReleaseKey certificate,
                std::vector<cohort::v1::SignedRoot> roots);

  const crypto::Ed25519PrivateKey key_;
  const cohort::v1::SignedReleaseKey certificate_;
  const std::vector<cohort::v1::SignedRoot> roots_;
  const std::string key_id_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_REGISTRY_RELEASE_SIGNER_H_
