// The release trust model against the attacks TUF's conformance suite
// models: tampered bytes, replays, freezes, threshold tricks, unknown and
// revoked keys, substituted artifacts and root rotations.

#include "common/model/trust.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"
#include "cohort/v1/coordinator.pb.h"
#include "gtest/gtest.h"

namespace cohort::model {
namespace {

using crypto::Ed25519PrivateKey;

constexpr int64_t kNowMs = 1'800'000'000'000;  // the update's start time
const absl::Time kNow = absl::FromUnixMillis(kNowMs);
constexpr int64_t kDay = 86'400'000;

Ed25519PrivateKey KeyFromByte(uint8_t b) {
  std::vector<uint8_t> seed(32, b);
  return *Ed25519PrivateKey::FromSeed(seed);
}

std::string Raw(const Ed25519PrivateKey& k) {
  return std::string(k.PublicKey().bytes().begin(), k.PublicKey().bytes().end());
}

cohort::v1::RootMetadata Root(int64_t version,
                              const std::vector<Ed25519PrivateKey>& keys,
                              int threshold) {
  cohort::v1::RootMetadata r;
  r.set_version(version);
  for (const auto& k : keys) r.add_keys(Raw(k));
  r.set_threshold(threshold);
  r.set_expires_at_unix_ms(kNowMs + 365 * kDay);
  return r;
}

class TrustTest : public ::testing::Test {
 protected:
  TrustTest()
      : roots_{KeyFromByte(1), KeyFromByte(2), KeyFromByte(3)},
        release_(KeyFromByte(10)),
        fp32_("fp32 weights bytes"),
        int8_("int8 weights") {}

  TrustedRoot Pinned() {
    auto root = TrustedRoot::FromPinned(SignRoot(Root(1, roots_, 2), roots_));
    EXPECT_TRUE(root.ok()) << root.status();
    return *root;
  }

  cohort::v1::SignedReleaseKey Cert(const Ed25519PrivateKey& key,
                                    const std::vector<Ed25519PrivateKey>& by,
                                    int64_t root_version = 1) {
    cohort::v1::ReleaseKeyCertificate c;
    c.set_key(Raw(key));
    c.set_root_version(root_version);
    c.set_expires_at_unix_ms(kNowMs + 90 * kDay);
    return CertifyReleaseKey(c, by);
  }

  cohort::v1::ModelManifest Manifest(int64_t release) {
    cohort::v1::ModelManifest m;
    m.set_task("fashion_mnist");
    m.set_version(release + 4);
    m.set_release(release);
    m.set_architecture("small_cnn");
    m.set_architecture_sha256(crypto::Sha256Hex("small_cnn"));
    m.set_expires_at_unix_ms(kNowMs + 7 * kDay);
    (*m.mutable_metrics())["holdout_accuracy"] = 0.86;
    for (auto [kind, bytes] : {std::pair{"fp32", &fp32_}, {"int8", &int8_}}) {
      auto* a = m.add_artifacts();
      a->set_kind(kind);
      a->set_sha256(crypto::Sha256Hex(*bytes));
      a->set_size_bytes(static_cast<int64_t>(bytes->size()));
    }
    return m;
  }

  cohort::v1::SignedManifest Signed(int64_t release) {
    return SignManifest(Manifest(release), release_,
                        Cert(release_, {roots_[0], roots_[2]}));
  }

  ManifestExpectations Expect(int64_t min_release = 0) {
    return {"fashion_mnist", min_release, kNow};
  }

  std::vector<Ed25519PrivateKey> roots_;
  Ed25519PrivateKey release_;
  std::string fp32_, int8_;
};

TEST_F(TrustTest, ValidManifestVerifiesAndItsArtifactsMatch) {
  auto m = VerifyManifest(Pinned(), Signed(3), Expect(2));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->release(), 3);
  EXPECT_EQ(m->key_id(), KeyId(release_.PublicKey()));
  EXPECT_TRUE(VerifyArtifact(*m, "fp32", fp32_).ok());
  EXPECT_TRUE(VerifyArtifact(*m, "int8", int8_).ok());
  EXPECT_EQ(VerifyArtifact(*m, "onnx", fp32_).code(), absl::StatusCode::kNotFound);
}

// A release also signs its ONNX export's digest; an assignment naming that
// file is refused, since devices download only the int8 and fp32 artifacts.
TEST_F(TrustTest, AnAssignmentNamingTheOnnxExportIsRefused) {
  cohort::v1::ModelManifest m = Manifest(3);
  const std::string onnx = "an onnx file";
  auto* a = m.add_artifacts();
  a->set_kind("onnx");
  a->set_sha256(crypto::Sha256Hex(onnx));
  a->set_size_bytes(static_cast<int64_t>(onnx.size()));
  cohort::v1::ModelRef ref;
  ref.set_version(m.version());
  ref.set_architecture(m.architecture());
  *ref.mutable_manifest() =
      SignManifest(m, release_, Cert(release_, {roots_[0], roots_[2]}));
  ref.set_sha256(crypto::Sha256Hex(onnx));
  ref.set_size_bytes(static_cast<int64_t>(onnx.size()));
  EXPECT_EQ(VerifyAssignedModel(Pinned(), ref, Expect()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ref.set_sha256(crypto::Sha256Hex(int8_));
  ref.set_size_bytes(static_cast<int64_t>(int8_.size()));
  EXPECT_TRUE(VerifyAssignedModel(Pinned(), ref, Expect()).ok());
  EXPECT_FALSE(IsDeviceArtifact(*a));
  EXPECT_TRUE(IsDeviceArtifact(m.artifacts(0)));
}

TEST_F(TrustTest, SigningIsDeterministic) {
  EXPECT_EQ(Signed(3).SerializeAsString(), Signed(3).SerializeAsString());
}

TEST_F(TrustTest, EveryFlippedManifestByteIsRefused) {
  const TrustedRoot root = Pinned();
  const cohort::v1::SignedManifest good = Signed(3);
  for (size_t i = 0; i < good.manifest().size(); ++i) {
    cohort::v1::SignedManifest bad = good;
    (*bad.mutable_manifest())[i] ^= 0x01;
    EXPECT_EQ(VerifyManifest(root, bad, Expect()).status().code(),
              absl::StatusCode::kUnauthenticated) << "byte " << i;
  }
}

TEST_F(TrustTest, EveryFlippedSignatureByteIsRefused) {
  const TrustedRoot root = Pinned();
  const cohort::v1::SignedManifest good = Signed(3);
  for (size_t i = 0; i < good.signatures(0).signature().size(); ++i) {
    cohort::v1::SignedManifest bad = good;
    (*bad.mutable_signatures(0)->mutable_signature())[i] ^= 0x80;
    EXPECT_EQ(VerifyManifest(root, bad, Expect()).status().code(),
              absl::StatusCode::kUnauthenticated) << "byte " << i;
  }
}

TEST_F(TrustTest, EveryFlippedCertificateByteIsRefused) {
  const TrustedRoot root = Pinned();
  const cohort::v1::SignedManifest good = Signed(3);
  const size_t n = good.release_key().certificate().size();
  for (size_t i = 0; i < n; ++i) {
    cohort::v1::SignedManifest bad = good;
    (*bad.mutable_release_key()->mutable_certificate())[i] ^= 0x01;
    EXPECT_FALSE(VerifyManifest(root, bad, Expect()).ok()) << "byte " << i;
  }
}

TEST_F(TrustTest, TamperedOrSubstitutedArtifactIsDataLoss) {
  auto m = VerifyManifest(Pinned(), Signed(3), Expect());
  ASSERT_TRUE(m.ok()) << m.status();
  std::string flipped = fp32_;
  flipped[4] ^= 0x01;
  EXPECT_EQ(VerifyArtifact(*m, "fp32", flipped).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyArtifact(*m, "fp32", int8_).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyArtifact(*m, "fp32", fp32_ + "x").code(),
            absl::StatusCode::kDataLoss);  // oversized download
  EXPECT_EQ(VerifyArtifact(*m, "fp32", fp32_.substr(1)).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(TrustTest, ReplayedOlderManifestIsRefusedTheSameReleaseIsNot) {
  const TrustedRoot root = Pinned();
  const cohort::v1::SignedManifest old = Signed(2);
  EXPECT_EQ(VerifyManifest(root, old, Expect(3)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(VerifyManifest(root, old, Expect(2)).ok());
}

TEST_F(TrustTest, ExpiredManifestIsRefusedJudgedAtTheUpdatesStart) {
  const TrustedRoot root = Pinned();
  cohort::v1::ModelManifest m = Manifest(3);
  m.set_expires_at_unix_ms(kNowMs);
  const auto s = SignManifest(m, release_, Cert(release_, roots_));
  EXPECT_EQ(VerifyManifest(root, s, Expect()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ManifestExpectations earlier = Expect();
  earlier.now = kNow - absl::Milliseconds(1);
  EXPECT_TRUE(VerifyManifest(root, s, earlier).ok());
}

TEST_F(TrustTest, ExpiredReleaseKeyOrRootIsRefused) {
  TrustedRoot root = Pinned();
  ManifestExpectations late = Expect();
  late.now = kNow + absl::Hours(24 * 91);  // past the 90-day certificate
  cohort::v1::ModelManifest m = Manifest(3);
  m.set_expires_at_unix_ms(kNowMs + 1000 * kDay);
  const auto s = SignManifest(m, release_, Cert(release_, roots_));
  EXPECT_EQ(VerifyManifest(root, s, late).status().code(),
            absl::StatusCode::kFailedPrecondition);
  late.now = kNow + absl::Hours(24 * 366);  // past the root too
  EXPECT_EQ(root.VerifyReleaseKey(s.release_key(), late.now).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrustTest, ThresholdNotMetIsRefused) {
  const auto s = SignManifest(Manifest(3), release_, Cert(release_, {roots_[1]}));
  EXPECT_EQ(VerifyManifest(Pinned(), s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustTest, OneKeysSignatureRepeatedDoesNotMeetTheThreshold) {
  cohort::v1::SignedReleaseKey cert = Cert(release_, {roots_[0]});
  for (int i = 0; i < 3; ++i) *cert.add_signatures() = cert.signatures(0);
  const auto s = SignManifest(Manifest(3), release_, cert);
  EXPECT_EQ(VerifyManifest(Pinned(), s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustTest, UnknownKeysAreRefused) {
  const Ed25519PrivateKey stranger_a = KeyFromByte(20), stranger_b = KeyFromByte(21);
  // A certificate by keys the root does not list.
  auto s = SignManifest(Manifest(3), release_, Cert(release_, {stranger_a, stranger_b}));
  EXPECT_EQ(VerifyManifest(Pinned(), s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A manifest signed by an uncertified key, with a valid certificate of
  // another key attached.
  s = SignManifest(Manifest(3), stranger_a, Cert(release_, roots_));
  EXPECT_EQ(VerifyManifest(Pinned(), s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustTest, ManifestNamingAnotherKeyIsRefused) {
  cohort::v1::ModelManifest m = Manifest(3);
  m.set_key_id(KeyId(KeyFromByte(20).PublicKey()));
  cohort::v1::SignedManifest s;
  s.set_manifest(DeterministicBytes(m));
  *s.add_signatures() = Sign(release_, s.manifest());
  *s.mutable_release_key() = Cert(release_, roots_);
  EXPECT_EQ(VerifyManifest(Pinned(), s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustTest, AnotherTasksManifestIsRefused) {
  ManifestExpectations other = Expect();
  other.task = "cifar";
  EXPECT_EQ(VerifyManifest(Pinned(), Signed(3), other).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrustTest, RootRotationIsFollowedAndRevokesAKey) {
  TrustedRoot root = Pinned();
  const std::vector<Ed25519PrivateKey> next_keys = {KeyFromByte(4), KeyFromByte(5),
                                                    KeyFromByte(6)};
  cohort::v1::RootMetadata next = Root(2, next_keys, 2);
  next.add_revoked_key_ids(KeyId(release_.PublicKey()));
  std::vector<Ed25519PrivateKey> signers = {roots_[0], roots_[1], next_keys[0],
                                            next_keys[2]};
  ASSERT_TRUE(root.Rotate(SignRoot(next, signers)).ok());
  EXPECT_EQ(root.version(), 2);
  // The old release key is revoked, whoever certifies it.
  auto s = SignManifest(Manifest(3), release_, Cert(release_, next_keys, 2));
  EXPECT_EQ(VerifyManifest(root, s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A new release key certified by the new root works; one certified by the
  // old root no longer does.
  const Ed25519PrivateKey fresh = KeyFromByte(11);
  s = SignManifest(Manifest(3), fresh, Cert(fresh, next_keys, 2));
  EXPECT_TRUE(VerifyManifest(root, s, Expect()).ok());
  s = SignManifest(Manifest(3), fresh, Cert(fresh, roots_, 1));
  EXPECT_EQ(VerifyManifest(root, s, Expect()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TrustTest, RootRotationThatSkipsAVersionIsRefused) {
  TrustedRoot root = Pinned();
  std::vector<Ed25519PrivateKey> all = roots_;
  all.push_back(KeyFromByte(4));
  const auto skipped = SignRoot(Root(3, {KeyFromByte(4)}, 1), all);
  EXPECT_EQ(root.Rotate(skipped).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(root.version(), 1);
}

TEST_F(TrustTest, RootRotationNeedsBothThresholds) {
  TrustedRoot root = Pinned();
  const std::vector<Ed25519PrivateKey> next_keys = {KeyFromByte(4), KeyFromByte(5)};
  const cohort::v1::RootMetadata next = Root(2, next_keys, 2);
  // Only the new keys (an attacker who made their own root).
  EXPECT_EQ(root.Rotate(SignRoot(next, next_keys)).code(),
            absl::StatusCode::kUnauthenticated);
  // The old threshold but one of two new keys.
  EXPECT_EQ(root.Rotate(SignRoot(next, {roots_[0], roots_[1], next_keys[0]})).code(),
            absl::StatusCode::kUnauthenticated);
  // One old key (a stolen minority) and all the new ones.
  EXPECT_EQ(root.Rotate(SignRoot(next, {roots_[0], next_keys[0], next_keys[1]})).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(root.version(), 1);
}

TEST_F(TrustTest, MalformedOrOversizedMetadataIsRefused) {
  cohort::v1::SignedRoot garbage;
  garbage.set_root("\xff\xff\xff not a root");
  EXPECT_EQ(TrustedRoot::FromPinned(garbage).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Threshold above the key count.
  EXPECT_EQ(TrustedRoot::FromPinned(SignRoot(Root(1, roots_, 4), roots_))
                .status().code(),
            absl::StatusCode::kInvalidArgument);
  // Under-signed pinned root.
  EXPECT_EQ(TrustedRoot::FromPinned(SignRoot(Root(1, roots_, 2), {roots_[0]}))
                .status().code(),
            absl::StatusCode::kUnauthenticated);
  cohort::v1::SignedManifest big = Signed(3);
  big.mutable_manifest()->append(kMaxMetadataBytes, 'x');
  EXPECT_EQ(VerifyManifest(Pinned(), big, Expect()).status().code(),
            absl::StatusCode::kResourceExhausted);
  cohort::v1::SignedManifest many = Signed(3);
  for (int i = 0; i < kMaxSignatures; ++i) *many.add_signatures() = many.signatures(0);
  EXPECT_EQ(VerifyManifest(Pinned(), many, Expect()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::model
