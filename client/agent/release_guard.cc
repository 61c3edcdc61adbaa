#include "client/agent/release_guard.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/agent/model_cache.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

// The highest release accepted so far: 0 when the file does not exist yet.
absl::StatusOr<int64_t> ReadHighestRelease(const std::string& state_dir) {
  const std::string path = ModelCache::ReleasePath(state_dir);
  auto text = base::ReadFile(path, 64);
  if (text.status().code() == absl::StatusCode::kNotFound) return 0;
  if (!text.ok()) return text.status();
  int64_t release = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &release) ||
      release < 0) {
    return absl::DataLossError(
        absl::StrCat(path, " does not hold a release number"));
  }
  return release;
}

absl::StatusOr<model::TrustedRoot> ReadRoot(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string bytes,
                          base::ReadFile(path, model::kMaxMetadataBytes));
  cohort::v1::SignedRoot root;
  if (!root.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(path + " is not a SignedRoot");
  }
  return model::TrustedRoot::FromPinned(root);
}

// The root the device followed to, if it is newer than `pinned`.
absl::Status AdoptFollowedRoot(const std::string& state_dir,
                               model::TrustedRoot& pinned) {
  const std::string path = ModelCache::RootPath(state_dir);
  auto followed = ReadRoot(path);
  if (followed.status().code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  if (!followed.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", followed.status().message()));
  }
  if (followed->version() > pinned.version()) pinned = *std::move(followed);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReleaseGuard>> ReleaseGuard::Open(
    const std::string& root_path, const std::string& state_dir) {
  COHORT_ASSIGN_OR_RETURN(model::TrustedRoot root, ReadRoot(root_path));
  COHORT_RETURN_IF_ERROR(AdoptFollowedRoot(state_dir, root));
  COHORT_ASSIGN_OR_RETURN(int64_t highest, ReadHighestRelease(state_dir));
  return std::unique_ptr<ReleaseGuard>(
      new ReleaseGuard(std::move(root), state_dir, highest));
}

absl::Status ReleaseGuard::FollowRoots(
    const google::protobuf::RepeatedPtrField<cohort::v1::SignedRoot>& roots) {
  model::TrustedRoot next = root_;
  for (const cohort::v1::SignedRoot& candidate : roots) {
    cohort::v1::RootMetadata metadata;
    if (!metadata.ParseFromString(candidate.root())) {
      return absl::InvalidArgumentError("a served root is not a RootMetadata");
    }
    if (metadata.version() != next.version() + 1) continue;
    COHORT_RETURN_IF_ERROR(next.Rotate(candidate));
  }
  if (next.version() == root_.version()) return absl::OkStatus();
  COHORT_RETURN_IF_ERROR(base::MakeDirs(state_dir_));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      ModelCache::RootPath(state_dir_), next.signed_root().SerializeAsString()));
  LOG(INFO) << "followed root rotation " << root_.version() << " -> "
            << next.version();
  root_ = std::move(next);
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::ModelManifest> ReleaseGuard::Verify(
    const cohort::v1::ModelRef& ref, const std::string& task,
    absl::Time started) {
  COHORT_RETURN_IF_ERROR(FollowRoots(ref.manifest().roots()));
  model::ManifestExpectations expect;
  expect.task = task;
  expect.min_release = highest_release_;
  expect.now = started;
  return model::VerifyAssignedModel(root_, ref, expect);
}

absl::StatusOr<cohort::v1::ModelManifest> ReleaseGuard::Check(
    const cohort::v1::ModelRef& ref, const std::string& task,
    absl::Time started) {
  auto m = Verify(ref, task, started);
  if (!m.ok()) {
    ++refusals_;
    LOG(WARNING) << "refused model version " << ref.version() << " ("
                 << refusals_ << " refused so far; keeping release "
                 << highest_release_ << "): " << m.status();
  }
  return m;
}

absl::Status ReleaseGuard::Accept(const cohort::v1::ModelManifest& manifest) {
  if (manifest.release() <= highest_release_) return absl::OkStatus();
  COHORT_RETURN_IF_ERROR(base::MakeDirs(state_dir_));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      ModelCache::ReleasePath(state_dir_),
      absl::StrCat(manifest.release(), "\n")));
  highest_release_ = manifest.release();
  return absl::OkStatus();
}

}  // namespace cohort::client
