#include "common/model/signing.h"

#include <algorithm>
#include <set>

#include "common/crypto/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace cohort::model {
namespace {

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list,
              const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Whether `s` is a valid signature over `bytes` by the raw public key `raw`.
bool Verifies(absl::string_view bytes, const cohort::v1::Signature& s,
              const std::string& raw) {
  auto key = crypto::Ed25519PublicKey::FromBytes(AsBytes(raw));
  auto signature = crypto::Ed25519Signature::FromBytes(AsBytes(s.signature()));
  return key.ok() && signature.ok() &&
         key->Verify(AsBytes(bytes), *signature).ok();
}

}  // namespace

std::string KeyId(absl::string_view raw_public_key) {
  return crypto::Sha256Hex(
      std::string_view(raw_public_key.data(), raw_public_key.size()));
}

std::string KeyId(const crypto::Ed25519PublicKey& key) {
  const auto& b = key.bytes();
  return KeyId(absl::string_view(reinterpret_cast<const char*>(b.data()),
                                 b.size()));
}

std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string out;
  message.ByteSizeLong();  // SerializeWithCachedSizes needs the sizes cached.
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return out;
}

cohort::v1::Signature Sign(const crypto::Ed25519PrivateKey& key,
                           absl::string_view bytes) {
  const crypto::Ed25519Signature s = key.Sign(AsBytes(bytes));
  cohort::v1::Signature out;
  out.set_key_id(KeyId(key.PublicKey()));
  out.set_signature(std::string(s.bytes().begin(), s.bytes().end()));
  return out;
}

cohort::v1::SignedRoot SignRoot(
    const cohort::v1::RootMetadata& root,
    const std::vector<crypto::Ed25519PrivateKey>& keys) {
  cohort::v1::SignedRoot out;
  out.set_root(DeterministicBytes(root));
  for (const auto& k : keys) *out.add_signatures() = Sign(k, out.root());
  return out;
}

cohort::v1::SignedReleaseKey CertifyReleaseKey(
    const cohort::v1::ReleaseKeyCertificate& certificate,
    const std::vector<crypto::Ed25519PrivateKey>& keys) {
  cohort::v1::SignedReleaseKey out;
  out.set_certificate(DeterministicBytes(certificate));
  for (const auto& k : keys) *out.add_signatures() = Sign(k, out.certificate());
  return out;
}

cohort::v1::SignedManifest SignManifest(
    cohort::v1::ModelManifest manifest,
    const crypto::Ed25519PrivateKey& release_key,
    const cohort::v1::SignedReleaseKey& certificate) {
  manifest.set_key_id(KeyId(release_key.PublicKey()));
  cohort::v1::SignedManifest out;
  out.set_manifest(DeterministicBytes(manifest));
  *out.add_signatures() = Sign(release_key, out.manifest());
  *out.mutable_release_key() = certificate;
  return out;
}

int CountValidSignatures(
    absl::string_view bytes,
    const google::protobuf::RepeatedPtrField<cohort::v1::Signature>& signatures,
    const google::protobuf::RepeatedPtrField<std::string>& trusted,
    const google::protobuf::RepeatedPtrField<std::string>& revoked) {
  std::set<std::string> counted;
  for (const std::string& raw : trusted) {
    const std::string id = KeyId(raw);
    if (counted.contains(id) || Contains(revoked, id)) continue;
    for (const cohort::v1::Signature& s : signatures) {
      if (s.key_id() == id && Verifies(bytes, s, raw)) {
        counted.insert(id);
        break;
      }
    }
  }
  return static_cast<int>(counted.size());
}

}  // namespace cohort::model
