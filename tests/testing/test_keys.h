#ifndef COHORT_TESTS_TESTING_TEST_KEYS_H_
#define COHORT_TESTS_TESTING_TEST_KEYS_H_

// A root of trust and a release key for tests, from fixed seeds: a 2-of-3
// root (version 1) and a release key it certifies, as `cohortctl keys`
// would write them.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cohort/v1/model.pb.h"
#include "common/crypto/ed25519.h"
#include "common/model/signing.h"

namespace cohort::testing {

inline crypto::Ed25519PrivateKey TestKey(uint8_t b) {
  return *crypto::Ed25519PrivateKey::FromSeed(std::vector<uint8_t>(32, b));
}

inline std::string RawKey(const crypto::Ed25519PrivateKey& k) {
  return std::string(k.PublicKey().bytes().begin(), k.PublicKey().bytes().end());
}

struct TestKeys {
  std::vector<crypto::Ed25519PrivateKey> roots = {TestKey(1), TestKey(2),
                                                  TestKey(3)};
  crypto::Ed25519PrivateKey release = TestKey(10);
  // Root and certificate expire a year after this.
  absl::Time now = absl::Now();

  cohort::v1::SignedRoot Root() const {
    cohort::v1::RootMetadata r;
    r.set_version(1);
    for (const auto& k : roots) r.add_keys(RawKey(k));
    r.set_threshold(2);
    r.set_expires_at_unix_ms(absl::ToUnixMillis(now + absl::Hours(24 * 365)));
    return model::SignRoot(r, roots);
  }

  cohort::v1::SignedReleaseKey Certificate() const {
    cohort::v1::ReleaseKeyCertificate c;
    c.set_key(RawKey(release));
    c.set_root_version(1);
    c.set_expires_at_unix_ms(absl::ToUnixMillis(now + absl::Hours(24 * 365)));
    return model::CertifyReleaseKey(c, {roots[0], roots[1]});
  }
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_TEST_KEYS_H_
