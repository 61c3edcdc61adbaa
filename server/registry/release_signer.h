#ifndef COHORT_SERVER_REGISTRY_RELEASE_SIGNER_H_
#define COHORT_SERVER_REGISTRY_RELEASE_SIGNER_H_

#include <memory>
#include <string>

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
  static absl::StatusOr<std::unique_ptr<ReleaseSigner>> Load(
      const std::string& key_path, const std::string& certificate_path);

  // FAILED_PRECONDITION when `certificate` is not for `key`.
  static absl::StatusOr<std::unique_ptr<ReleaseSigner>> Create(
      crypto::Ed25519PrivateKey key, cohort::v1::SignedReleaseKey certificate);

  // `manifest` with key_id set, signed, with the certificate attached.
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
                cohort::v1::SignedReleaseKey certificate);

  const crypto::Ed25519PrivateKey key_;
  const cohort::v1::SignedReleaseKey certificate_;
  const std::string key_id_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_REGISTRY_RELEASE_SIGNER_H_
