// Signed manifests as a device checks them against its pinned root
// (model::VerifyManifest, VerifyAssignedModel). The first byte picks the
// form: a SignedManifest or ModelRef straight from the input (parsing and
// signature checks), or a ModelManifest that the test release key signs
// first, so that the checks behind the signature see hostile content too.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/model.pb.h"
#include "common/model/signing.h"
#include "common/model/trust.h"
#include "tests/testing/test_keys.h"

namespace {

struct Fixture {
  cohort::testing::TestKeys keys;
  cohort::model::TrustedRoot root =
      *cohort::model::TrustedRoot::FromPinned(keys.Root());
  cohort::v1::SignedReleaseKey certificate = keys.Certificate();
};

const Fixture& TheFixture() {
  static const Fixture* fixture = new Fixture();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Fixture& f = TheFixture();
  cohort::model::ManifestExpectations expect;
  expect.task = "fashion";
  expect.min_release = data[0] >> 4;
  expect.now = f.keys.now;
  const uint8_t* body = data + 1;
  const int length = static_cast<int>(size - 1);
  switch (data[0] % 3) {
    case 0: {
      cohort::v1::SignedManifest signed_manifest;
      if (!signed_manifest.ParseFromArray(body, length)) return 0;
      (void)cohort::model::VerifyManifest(f.root, signed_manifest, expect);
      break;
    }
    case 1: {
      cohort::v1::ModelRef ref;
      if (!ref.ParseFromArray(body, length)) return 0;
      (void)cohort::model::VerifyAssignedModel(f.root, ref, expect);
      break;
    }
    default: {
      cohort::v1::ModelManifest content;
      if (!content.ParseFromArray(body, length)) return 0;
      content.set_key_id(cohort::model::KeyId(f.keys.release.PublicKey()));
      cohort::v1::ModelRef ref;
      *ref.mutable_manifest() =
          cohort::model::SignManifest(content, f.keys.release, f.certificate);
      ref.set_version(content.version());
      ref.set_architecture(content.architecture());
      auto verified = cohort::model::VerifyManifest(f.root, ref.manifest(), expect);
      if (verified.ok()) {
        for (const auto& artifact : verified->artifacts()) {
          (void)cohort::model::VerifyArtifact(*verified, artifact.kind(), "");
        }
      }
      (void)cohort::model::VerifyAssignedModel(f.root, ref, expect);
      break;
    }
  }
  return 0;
}
