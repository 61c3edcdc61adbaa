#ifndef COHORT_SERVER_REGISTRY_RELEASE_REGISTRY_H_
#define COHORT_SERVER_REGISTRY_RELEASE_REGISTRY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/model.pb.h"
#include "common/base/clock.h"
#include "server/registry/release_signer.h"
#include "server/store/store.h"

namespace cohort::server {

// What to release: the manifest's content (task, version, parent, round,
// architecture, metrics, artifacts) and who releases it why. Release
// number, key id, creation and expiry time are filled in by the registry.
struct ReleaseRequest {
  cohort::v1::ModelManifest manifest;
  ReleaseRecord::Kind kind = ReleaseRecord::Kind::kPromote;
  std::string reason;
  std::string actor = "gate";
};

// A release and its manifest, checked.
struct Release {
  ReleaseRecord record;
  cohort::v1::SignedManifest manifest;
};

// Publishes a task's versions to devices: numbers each release (current
// + 1), signs its manifest with the release key and appends it to the
// store's release log, which switches the current release atomically, so a
// crash leaves the old or the new release current. Store, signer and clock
// are borrowed. Thread-compatible: one writer per task (the engine's driver
// thread), as Store::AppendRelease enforces.
class ReleaseRegistry {
 public:
  // Manifests expire `manifest_ttl` after their release.
  ReleaseRegistry(std::string task, Store* store, const ReleaseSigner* signer,
                  base::Clock* clock, absl::Duration manifest_ttl);

  // Releases request.manifest.version as the next release. Store errors
  // as-is (FAILED_PRECONDITION when another writer released first; the
  // caller re-reads and retries).
  absl::StatusOr<Release> Publish(ReleaseRequest request);

  // The current release, checked before it is served: DATA_LOSS naming the
  // release when its manifest does not parse or verify. A release signed by
  // an earlier release key of this coordinator, or one whose manifest
  // expires within half the TTL, is re-released under the current key (a
  // new, higher number; same version and kind), so devices neither refuse
  // a rotated key nor reach a manifest's expiry while the task is quiet.
  // std::nullopt if there is none.
  absl::StatusOr<std::optional<Release>> Current();

 private:
  absl::StatusOr<Release> Check(const ReleaseRecord& record) const;

  const std::string task_;
  Store* const store_;
  const ReleaseSigner* const signer_;
  base::Clock* const clock_;
  const absl::Duration manifest_ttl_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_REGISTRY_RELEASE_REGISTRY_H_
