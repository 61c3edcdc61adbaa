#ifndef COHORT_COMMON_MODEL_SIGNING_H_
#define COHORT_COMMON_MODEL_SIGNING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cohort/v1/model.pb.h"
#include "common/crypto/ed25519.h"
#include "google/protobuf/message_lite.h"

namespace cohort::model {

// The signing half of the release trust model (docs/LIFECYCLE.md): Ed25519
// (RFC 8032) signatures over deterministic protobuf bytes, in two roles as
// TUF separates them (the Update Framework specification, 1.0): offline root
// keys, k of n, sign the root metadata and certify release keys; the
// coordinator's online release key signs manifests. trust.h verifies.

// A key's id: lower-case hex SHA-256 of its raw 32-byte public key.
std::string KeyId(const crypto::Ed25519PublicKey& key);
std::string KeyId(absl::string_view raw_public_key);

// The bytes that are signed: protobuf's deterministic serialization (map
// entries sorted by key), so the same message always signs the same bytes.
std::string DeterministicBytes(const google::protobuf::MessageLite& message);

// A Signature of `bytes` by `key`, carrying the key's id.
cohort::v1::Signature Sign(const crypto::Ed25519PrivateKey& key,
                           absl::string_view bytes);

// `root` signed by every key in `keys` (the root key holders; at least the
// threshold of the root that must accept it).
cohort::v1::SignedRoot SignRoot(
    const cohort::v1::RootMetadata& root,
    const std::vector<crypto::Ed25519PrivateKey>& keys);

// A release key certified by root keys `keys`.
cohort::v1::SignedReleaseKey CertifyReleaseKey(
    const cohort::v1::ReleaseKeyCertificate& certificate,
    const std::vector<crypto::Ed25519PrivateKey>& keys);

// `manifest` signed by the release key, with the key's certificate attached.
// Sets manifest.key_id to the release key's id before signing.
cohort::v1::SignedManifest SignManifest(
    cohort::v1::ModelManifest manifest,
    const crypto::Ed25519PrivateKey& release_key,
    const cohort::v1::SignedReleaseKey& certificate);

// The number of distinct keys among `trusted` (raw public keys) with a valid
// signature over `bytes` in `signatures`. A key counts once however many
// copies of its signature there are; a signature whose key id is not in
// `trusted`, is in `revoked`, or does not verify counts for nothing.
int CountValidSignatures(
    absl::string_view bytes,
    const google::protobuf::RepeatedPtrField<cohort::v1::Signature>& signatures,
    const google::protobuf::RepeatedPtrField<std::string>& trusted,
    const google::protobuf::RepeatedPtrField<std::string>& revoked);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_SIGNING_H_
