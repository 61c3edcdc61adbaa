// The coordinator's release registry on a real (directory) store: numbering,
// signatures a device accepts, a tampered store, and a rotated release key.

#include "server/registry/release_registry.h"

#include <filesystem>
#include <memory>
#include <string>

#include "common/model/signing.h"
#include "common/model/trust.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_keys.h"

namespace cohort::server {
namespace {

class ReleaseRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir =
        ::testing::TempDir() + "/release_registry_" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir);
    auto store = DirectoryStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    keys_.now = clock_.Now();
    auto signer = ReleaseSigner::Create(keys_.release, keys_.Certificate());
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);
    for (int64_t v = 1; v <= 2; ++v) {
      ModelVersionRecord r;
      r.task = "t";
      r.version = v;
      r.parent = v - 1;
      r.architecture = "small_cnn";
      r.weights = "w";
      ASSERT_TRUE(store_->CommitVersion(r).ok());
    }
  }

  ReleaseRegistry Registry(const ReleaseSigner* signer) {
    return ReleaseRegistry("t", store_.get(), signer, &clock_, absl::Hours(1));
  }

  ReleaseRequest Request(int64_t version) {
    ReleaseRequest r;
    r.manifest.set_version(version);
    r.manifest.set_architecture("small_cnn");
    r.reason = "test";
    return r;
  }

  testing::FakeClock clock_;
  testing::TestKeys keys_;
  std::unique_ptr<DirectoryStore> store_;
  std::unique_ptr<ReleaseSigner> signer_;
};

TEST_F(ReleaseRegistryTest, ReleasesAreNumberedSignedAndVerifyOnADevice) {
  ReleaseRegistry registry = Registry(signer_.get());
  auto first = registry.Publish(Request(1));
  auto second = registry.Publish(Request(2));
  ASSERT_TRUE(first.ok() && second.ok()) << first.status() << second.status();
  EXPECT_EQ(first->record.release, 1);
  EXPECT_EQ(second->record.release, 2);
  auto root = model::TrustedRoot::FromPinned(keys_.Root());
  ASSERT_TRUE(root.ok());
  auto m = model::VerifyManifest(*root, second->manifest,
                                 {"t", 1, clock_.Now()});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version(), 2);
  EXPECT_EQ(m->expires_at_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + absl::Hours(1)));
  auto current = registry.Current();
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->record.release, 2);
}

TEST_F(ReleaseRegistryTest, ATamperedStoredReleaseIsDataLossAndNeverServed) {
  ReleaseRegistry registry = Registry(signer_.get());
  ASSERT_TRUE(registry.Publish(Request(1)).ok());
  // Another writer (or an attacker with the store) appends a release whose
  // manifest bytes were changed after signing.
  auto good = store_->GetCurrentRelease("t");
  ASSERT_TRUE(good.ok() && good->has_value());
  cohort::v1::SignedManifest forged;
  ASSERT_TRUE(forged.ParseFromString((*good)->signed_manifest));
  (*forged.mutable_manifest())[2] ^= 0x01;
  ReleaseRecord bad = **good;
  bad.release = 2;
  bad.signed_manifest = forged.SerializeAsString();
  ASSERT_TRUE(store_->AppendRelease(bad).ok());
  EXPECT_EQ(registry.Current().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ReleaseRegistryTest, AReleaseByAnEarlierKeyIsReleasedAgainUnderTheNewOne) {
  ASSERT_TRUE(Registry(signer_.get()).Publish(Request(2)).ok());
  testing::TestKeys rotated = keys_;
  rotated.release = testing::TestKey(11);
  auto signer = ReleaseSigner::Create(rotated.release, rotated.Certificate());
  ASSERT_TRUE(signer.ok());
  ReleaseRegistry registry = Registry(signer->get());
  auto current = registry.Current();
  ASSERT_TRUE(current.ok() && current->has_value()) << current.status();
  EXPECT_EQ((*current)->record.release, 2);
  EXPECT_EQ((*current)->record.version, 2);
  // Re-signing keeps the kind: it is the same release, newly signed.
  EXPECT_EQ((*current)->record.kind, ReleaseRecord::Kind::kPromote);
  EXPECT_EQ((*current)->record.actor, "coordinator");
  EXPECT_TRUE((*signer)->IsSignedByThisKey((*current)->manifest).value_or(false));
}

// A quiet task's release is signed again before devices would refuse it
// as expired (freeze protection must not freeze an idle fleet).
TEST_F(ReleaseRegistryTest, AReleaseNearItsExpiryIsSignedAgain) {
  ReleaseRegistry registry = Registry(signer_.get());  // TTL 1 h
  ASSERT_TRUE(registry.Publish(Request(2)).ok());
  clock_.Advance(absl::Minutes(29));
  auto fresh = registry.Current();
  ASSERT_TRUE(fresh.ok() && fresh->has_value()) << fresh.status();
  EXPECT_EQ((*fresh)->record.release, 1);
  clock_.Advance(absl::Minutes(2));  // under half the TTL left
  auto again = registry.Current();
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status();
  EXPECT_EQ((*again)->record.release, 2);
  EXPECT_EQ((*again)->record.version, 2);
  EXPECT_NE((*again)->record.reason.find("before it expires"),
            std::string::npos) << (*again)->record.reason;
  cohort::v1::ModelManifest m;
  ASSERT_TRUE(m.ParseFromString((*again)->manifest.manifest()));
  EXPECT_EQ(m.expires_at_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + absl::Hours(1)));
  auto same = registry.Current();
  ASSERT_TRUE(same.ok() && same->has_value());
  EXPECT_EQ((*same)->record.release, 2);  // not signed again and again
}

TEST_F(ReleaseRegistryTest, ACertificateForAnotherKeyIsRefusedAtStartUp) {
  testing::TestKeys other = keys_;
  other.release = testing::TestKey(12);
  EXPECT_EQ(ReleaseSigner::Create(keys_.release, other.Certificate()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReleaseRegistryTest, RootChainMustRotateAndCertifyTheKey) {
  // Root 2 (keys 4, 5), signed by root 1's threshold and its own.
  const std::vector<crypto::Ed25519PrivateKey> next = {testing::TestKey(4),
                                                       testing::TestKey(5)};
  cohort::v1::RootMetadata r;
  r.set_version(2);
  for (const auto& k : next) r.add_keys(testing::RawKey(k));
  r.set_threshold(2);
  r.set_expires_at_unix_ms(absl::ToUnixMillis(keys_.now + absl::Hours(24)));
  std::vector<crypto::Ed25519PrivateKey> signers = {keys_.roots[0], keys_.roots[1],
                                                    next[0], next[1]};
  const cohort::v1::SignedRoot root2 = model::SignRoot(r, signers);
  // The test certificate is from root 1, not from root 2.
  EXPECT_EQ(ReleaseSigner::Create(keys_.release, keys_.Certificate(), {root2})
                .status().code(),
            absl::StatusCode::kFailedPrecondition);
  cohort::v1::ReleaseKeyCertificate c;
  c.set_key(testing::RawKey(keys_.release));
  c.set_root_version(2);
  c.set_expires_at_unix_ms(absl::ToUnixMillis(keys_.now + absl::Hours(24)));
  auto signer = ReleaseSigner::Create(keys_.release,
                                      model::CertifyReleaseKey(c, next), {root2});
  ASSERT_TRUE(signer.ok()) << signer.status();
  // Every manifest carries the chain; a device pinned to root 1 follows it.
  ReleaseRequest request = Request(1);
  request.manifest.set_task("t");
  request.manifest.set_release(1);
  request.manifest.set_expires_at_unix_ms(
      absl::ToUnixMillis(keys_.now + absl::Hours(1)));
  const cohort::v1::SignedManifest signed_manifest = (*signer)->Sign(request.manifest);
  ASSERT_EQ(signed_manifest.roots_size(), 1);
  auto device = model::TrustedRoot::FromPinned(keys_.Root());
  ASSERT_TRUE(device.ok());
  ASSERT_TRUE(device->Rotate(signed_manifest.roots(0)).ok());
  EXPECT_TRUE(model::VerifyManifest(*device, signed_manifest,
                                    {"t", 0, keys_.now}).ok());
}

}  // namespace
}  // namespace cohort::server
