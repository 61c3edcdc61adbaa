#include "tools/cohortctl/signed_release.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/model/trust.h"

namespace cohort::tools {
namespace {

template <typename Message>
absl::StatusOr<Message> ReadMessage(const std::string& path, const char* what) {
  COHORT_ASSIGN_OR_RETURN(std::string bytes,
                          base::ReadFile(path, model::kMaxMetadataBytes));
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a ", what));
  }
  return message;
}

}  // namespace

absl::StatusOr<cohort::v1::ModelManifest> ReadVerifiedManifest(
    const std::string& manifest_path, const std::string& root_path) {
  COHORT_ASSIGN_OR_RETURN(
      auto pinned, ReadMessage<cohort::v1::SignedRoot>(root_path, "SignedRoot"));
  COHORT_ASSIGN_OR_RETURN(
      auto signed_manifest,
      ReadMessage<cohort::v1::SignedManifest>(manifest_path, "SignedManifest"));
  COHORT_ASSIGN_OR_RETURN(model::TrustedRoot root,
                          model::TrustedRoot::FromPinned(pinned));
  for (const cohort::v1::SignedRoot& next : signed_manifest.roots()) {
    cohort::v1::RootMetadata metadata;
    if (!metadata.ParseFromString(next.root()) ||
        metadata.version() <= root.version()) {
      continue;
    }
    COHORT_RETURN_IF_ERROR(root.Rotate(next));
  }
  // What the manifest claims, to say which task and time to check it for;
  // VerifyManifest checks the signature before anything else, so bytes
  // changed after signing are UNAUTHENTICATED even when they do not parse.
  cohort::v1::ModelManifest claimed;
  (void)claimed.ParseFromString(signed_manifest.manifest());
  model::ManifestExpectations expect;
  expect.task = claimed.task();
  expect.now = absl::FromUnixMillis(claimed.created_at_unix_ms());
  return model::VerifyManifest(root, signed_manifest, expect);
}

absl::StatusOr<std::string> ReleaseWeightsKind(
    const cohort::v1::ModelManifest& manifest, absl::string_view weights) {
  for (const char* kind : {"int8", "fp32"}) {
    if (model::VerifyArtifact(manifest, kind, weights).ok()) return kind;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the weights are not an artifact of release ", manifest.release(),
      " (task ", manifest.task(), ", version ", manifest.version(),
      "): their SHA-256 matches neither its int8 nor its fp32 digest"));
}

}  // namespace cohort::tools
