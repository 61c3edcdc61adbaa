#include "client/agent/release_guard.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/agent/model_cache.h"
#include "client/agent/state_file.h"
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
  return ParseReleaseNumber(*text, path);
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
// DATA_LOSS for an unusable file, which is left in place: falling back to
// the pinned root would trust again the keys a later root revoked.
absl::Status AdoptFollowedRoot(const std::string& state_dir,
                               model::TrustedRoot& pinned) {
  const std::string path = ModelCache::RootPath(state_dir);
  auto followed = ReadRoot(path);
  if (followed.status().code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  if (!followed.ok()) {
    return absl::DataLossError(absl::StrCat(
        path, ": ", followed.status().message(),
        " (the newest root this device followed; restore it from a device "
        "of the same fleet: falling back to the pinned root would trust "
        "revoked keys again)"));
  }
  if (followed->version() > pinned.version()) pinned = *std::move(followed);
  return absl::OkStatus();
}

// The signed manifest kept in the state directory, if `root` verifies it
// (for the task it names, expiry aside: it was valid when accepted);
// nullopt when there is none. An unusable file is moved aside.
std::optional<cohort::v1::ModelManifest> KeptManifest(
    const std::string& state_dir, const model::TrustedRoot& root) {
  const std::string path = ModelCache::ManifestPath(state_dir);
  auto bytes = base::ReadFile(path, model::kMaxMetadataBytes);
  if (bytes.status().code() == absl::StatusCode::kNotFound) {
    return std::nullopt;
  }
  cohort::v1::SignedManifest kept;
  cohort::v1::ModelManifest inner;
  absl::Status usable = bytes.status();
  if (usable.ok() && (!kept.ParseFromString(*bytes) ||
                      !inner.ParseFromString(kept.manifest()))) {
    usable = absl::DataLossError("not a SignedManifest");
  }
  if (usable.ok()) {
    model::ManifestExpectations expect;
    expect.task = inner.task();
    usable = model::VerifyManifest(root, kept, expect).status();
  }
  if (!usable.ok()) {
    QuarantineStateFile(path, "kept manifest", usable.message());
    return std::nullopt;
  }
  return inner;
}

// The highest release accepted: the release file's number, or the kept
// manifest's when that is higher or the file is unusable (then moved
// aside). DATA_LOSS, with the file left in place, when the file is unusable
// and no verified manifest backs it: starting from 0 would accept replays.
absl::StatusOr<int64_t> RecoverHighestRelease(
    const std::string& state_dir,
    const std::optional<cohort::v1::ModelManifest>& manifest) {
  const int64_t kept = manifest.has_value() ? manifest->release() : 0;
  auto recorded = ReadHighestRelease(state_dir);
  if (recorded.ok()) return std::max(*recorded, kept);
  if (kept == 0) {
    return absl::DataLossError(absl::StrCat(
        recorded.status().message(),
        ", and no verified manifest.pb to recover it from (starting from 0 "
        "would let an older release back in)"));
  }
  QuarantineStateFile(ModelCache::ReleasePath(state_dir), "release counter",
                      recorded.status().message());
  LOG(WARNING) << "release counter recovered from the kept manifest: "
               << kept;
  return kept;
}

}  // namespace

absl::StatusOr<int64_t> ParseReleaseNumber(absl::string_view text,
                                           const std::string& path) {
  int64_t release = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &release) ||
      release < 0) {
    return absl::DataLossError(
        absl::StrCat(path, " does not hold a release number"));
  }
  return release;
}

absl::StatusOr<std::unique_ptr<ReleaseGuard>> ReleaseGuard::Open(
    const std::string& root_path, const std::string& state_dir) {
  COHORT_ASSIGN_OR_RETURN(model::TrustedRoot root, ReadRoot(root_path));
  COHORT_RETURN_IF_ERROR(AdoptFollowedRoot(state_dir, root));
  std::optional<cohort::v1::ModelManifest> kept = KeptManifest(state_dir, root);
  COHORT_ASSIGN_OR_RETURN(const int64_t highest,
                          RecoverHighestRelease(state_dir, kept));
  auto guard = std::unique_ptr<ReleaseGuard>(
      new ReleaseGuard(std::move(root), state_dir, highest));
  guard->held_manifest_ = std::move(kept);
  return guard;
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
  if (m.ok()) {
    checked_ = ref.manifest();
    checked_manifest_release_ = m->release();
  }
  if (!m.ok()) {
    ++refusals_;
    LOG(WARNING) << "refused model version " << ref.version() << " ("
                 << refusals_ << " refused so far; keeping release "
                 << highest_release_ << "): " << m.status();
  }
  return m;
}

absl::Status ReleaseGuard::Accept(const cohort::v1::ModelManifest& manifest) {
  if (manifest.release() < highest_release_) return absl::OkStatus();
  // The same release again: only to give an older state directory (or one
  // whose manifest was moved aside) its backup of the counter.
  std::error_code ec;
  if (manifest.release() == highest_release_ &&
      std::filesystem::exists(ModelCache::ManifestPath(state_dir_), ec)) {
    return absl::OkStatus();
  }
  COHORT_RETURN_IF_ERROR(base::MakeDirs(state_dir_));
  // The manifest first: a crash between the writes leaves a counter the
  // kept manifest raises on the next start.
  if (!checked_.manifest().empty() &&
      checked_manifest_release_ == manifest.release()) {
    COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
        ModelCache::ManifestPath(state_dir_), checked_.SerializeAsString()));
  }
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      ModelCache::ReleasePath(state_dir_),
      absl::StrCat(manifest.release(), "\n")));
  highest_release_ = manifest.release();
  held_manifest_ = manifest;
  return absl::OkStatus();
}

}  // namespace cohort::client
