#ifndef COHORT_CLIENT_AGENT_RELEASE_GUARD_H_
#define COHORT_CLIENT_AGENT_RELEASE_GUARD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/model.pb.h"
#include "common/model/trust.h"

namespace cohort::client {

// The device's release policy (docs/LIFECYCLE.md): it pins a root of its
// own, accepts a model only under a manifest the root's certified release
// key signed, and never goes back to a lower release number than one it
// accepted, which it keeps in <state_dir>/release (ModelCache::ReleasePath)
// across restarts, with the signed manifest of that release beside it
// (ModelCache::ManifestPath). It follows root rotations that come with a manifest, one
// version at a time, and keeps the newest root it followed in
// <state_dir>/root.pb (ModelCache::RootPath). Nothing the coordinator sends
// turns it off.
//
// Not thread-safe: the agent loop owns it.
class ReleaseGuard {
 public:
  // Reads the pinned root (a SignedRoot) at `root_path`, the root followed
  // since (when newer) and the highest release accepted so far from
  // `state_dir`. NOT_FOUND for a missing pinned root; the errors of
  // TrustedRoot::FromPinned for a bad one. A bad release file falls back to
  // the release of the kept signed manifest, which the root must verify
  // (the file is then moved aside to "release.corrupt"); a bad kept
  // manifest is moved aside. DATA_LOSS, naming the file and leaving it in
  // place, when no such fallback is safe: a bad release file without a
  // verified manifest (starting from 0 would accept replays), or a bad
  // followed root (the pinned one would trust revoked keys again).
  static absl::StatusOr<std::unique_ptr<ReleaseGuard>> Open(
      const std::string& root_path, const std::string& state_dir);

  // The manifest of the release `ref` comes under, after following the root
  // rotations it carries (each must be current + 1 and carry both
  // thresholds; older ones are skipped), if it verifies
  // (model::VerifyManifest against the pinned root, for `task`, no lower
  // than the highest release accepted, judged at `started`) and lists the
  // artifact `ref` names with the same SHA-256 and size, for the same
  // version and architecture. UNAUTHENTICATED when `ref` carries no
  // manifest; FAILED_PRECONDITION when manifest and `ref` disagree; the
  // errors of VerifyManifest otherwise. Every refusal is logged and counted.
  absl::StatusOr<cohort::v1::ModelManifest> Check(
      const cohort::v1::ModelRef& ref, const std::string& task,
      absl::Time started);

  // Records that the device now holds `manifest`'s release (call after its
  // artifact verified): raises the highest accepted release, durably
  // (atomic write, fsync, rename), after keeping the signed manifest Check
  // returned it from. INTERNAL on I/O errors.
  absl::Status Accept(const cohort::v1::ModelManifest& manifest);

  int64_t highest_release() const { return highest_release_; }
  // The manifest of the release the device holds: the kept one, verified
  // again at Open, or the last one accepted. nullopt before the first.
  const std::optional<cohort::v1::ModelManifest>& held_manifest() const {
    return held_manifest_;
  }
  // Version of the root the device trusts now.
  int64_t root_version() const { return root_.version(); }
  // Models refused since start-up.
  int64_t refusals() const { return refusals_; }

 private:
  ReleaseGuard(model::TrustedRoot root, std::string state_dir,
               int64_t highest_release)
      : root_(std::move(root)),
        state_dir_(std::move(state_dir)),
        highest_release_(highest_release) {}

  absl::StatusOr<cohort::v1::ModelManifest> Verify(
      const cohort::v1::ModelRef& ref, const std::string& task,
      absl::Time started);
  // Rotates to each root in `roots` that is current + 1, in order, and
  // persists the result. On error the root is as before.
  absl::Status FollowRoots(
      const google::protobuf::RepeatedPtrField<cohort::v1::SignedRoot>& roots);

  model::TrustedRoot root_;
  const std::string state_dir_;
  int64_t highest_release_ = 0;
  std::optional<cohort::v1::ModelManifest> held_manifest_;
  int64_t refusals_ = 0;
  // The signed manifest the last successful Check verified, kept by Accept.
  cohort::v1::SignedManifest checked_;
  int64_t checked_manifest_release_ = -1;
};

// The release number in the text of <state_dir>/release (`path`, for the
// message): DATA_LOSS unless it is one non-negative integer.
absl::StatusOr<int64_t> ParseReleaseNumber(absl::string_view text,
                                           const std::string& path);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_RELEASE_GUARD_H_
