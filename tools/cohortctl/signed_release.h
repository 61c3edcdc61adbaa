#ifndef COHORT_TOOLS_COHORTCTL_SIGNED_RELEASE_H_
#define COHORT_TOOLS_COHORTCTL_SIGNED_RELEASE_H_

// A release as an operator checks it away from the fleet: its signed
// manifest (the admin API's GetManifest answer, saved as a file) verified
// against the root of trust devices pin, and files checked against the
// digests it lists. Used by `cohortctl model export --manifest`.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cohort/v1/model.pb.h"

namespace cohort::tools {

// The manifest inside the serialized SignedManifest at `manifest_path`, if
// the root at `root_path` (a serialized SignedRoot, as devices pin it),
// after the root rotations the manifest carries, certified its release key
// and the signature holds. Expiry is judged at the manifest's own creation
// time: an old release stays checkable. NOT_FOUND / RESOURCE_EXHAUSTED for
// unreadable or oversized files, INVALID_ARGUMENT for files that do not
// parse, and the errors of model::VerifyManifest (UNAUTHENTICATED for a bad
// signature).
absl::StatusOr<cohort::v1::ModelManifest> ReadVerifiedManifest(
    const std::string& manifest_path, const std::string& root_path);

// Which of the artifacts of `manifest` `weights` (a serialized Weights
// file's bytes) is: "int8" or "fp32". FAILED_PRECONDITION if neither.
absl::StatusOr<std::string> ReleaseWeightsKind(
    const cohort::v1::ModelManifest& manifest, absl::string_view weights);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_SIGNED_RELEASE_H_
