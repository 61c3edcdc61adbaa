#include "server/registry/release_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/kill_point.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::server {

ReleaseRegistry::ReleaseRegistry(std::string task, Store* store,
                                 const ReleaseSigner* signer,
                                 base::Clock* clock,
                                 absl::Duration manifest_ttl)
    : task_(std::move(task)),
      store_(store),
      signer_(signer),
      clock_(clock),
      manifest_ttl_(manifest_ttl) {}

absl::StatusOr<Release> ReleaseRegistry::Publish(ReleaseRequest request) {
  COHORT_ASSIGN_OR_RETURN(std::optional<ReleaseRecord> current,
                          store_->GetCurrentRelease(task_));
  const absl::Time now = clock_->Now();
  cohort::v1::ModelManifest& m = request.manifest;
  m.set_task(task_);
  m.set_release(current.has_value() ? current->release + 1 : 1);
  m.set_created_at_unix_ms(absl::ToUnixMillis(now));
  m.set_expires_at_unix_ms(absl::ToUnixMillis(now + manifest_ttl_));
  Release out;
  out.manifest = signer_->Sign(m);
  base::KillPoint("server.signed");
  ReleaseRecord& r = out.record;
  r.task = task_;
  r.release = m.release();
  r.version = m.version();
  r.kind = request.kind;
  r.reason = std::move(request.reason);
  r.actor = std::move(request.actor);
  r.created_at_unix_ms = m.created_at_unix_ms();
  r.signed_manifest = out.manifest.SerializeAsString();
  COHORT_RETURN_IF_ERROR(store_->AppendRelease(r));
  base::KillPoint("server.released");
  // A routine release follows every round; rollbacks and pins are news.
  const std::string line =
      absl::StrCat("task ", task_, ": release ", r.release, " publishes version ",
                   r.version, " (", r.reason, ")");
  if (r.kind == ReleaseRecord::Kind::kPromote) {
    VLOG(1) << line;
  } else {
    LOG(INFO) << line;
  }
  return out;
}

absl::StatusOr<Release> ReleaseRegistry::Check(
    const ReleaseRecord& record) const {
  Release out;
  out.record = record;
  if (!out.manifest.ParseFromString(record.signed_manifest)) {
    return absl::DataLossError(absl::StrCat(
        "task ", task_, ": the manifest of release ", record.release,
        " in the store does not parse"));
  }
  return out;
}

absl::StatusOr<std::optional<Release>> ReleaseRegistry::Current() {
  COHORT_ASSIGN_OR_RETURN(std::optional<ReleaseRecord> current,
                          store_->GetCurrentRelease(task_));
  if (!current.has_value()) return std::nullopt;
  COHORT_ASSIGN_OR_RETURN(Release release, Check(*current));
  auto ours = signer_->IsSignedByThisKey(release.manifest);
  if (!ours.ok()) {
    return absl::DataLossError(absl::StrCat("task ", task_, ", release ",
                                            current->release, ": ",
                                            ours.status().message()));
  }
  cohort::v1::ModelManifest content;
  if (!content.ParseFromString(release.manifest.manifest())) {
    return absl::DataLossError(absl::StrCat(
        "task ", task_, ", release ", current->release,
        ": the signed manifest bytes do not parse"));
  }
  const absl::Time expires = absl::FromUnixMillis(content.expires_at_unix_ms());
  const bool expiring = expires - clock_->Now() < manifest_ttl_ / 2;
  if (*ours && !expiring) return release;
  // The same release again under a new number: same version and kind (a
  // pin stays a pin), fresh signature and expiry.
  ReleaseRequest again;
  again.manifest = std::move(content);
  again.kind = current->kind;
  again.reason =
      *ours ? absl::StrCat("release ", current->release,
                           " re-signed before it expires at ",
                           absl::FormatTime(expires, absl::UTCTimeZone()))
            : absl::StrCat("release ", current->release,
                           " re-signed with release key ", signer_->key_id());
  again.actor = "coordinator";
  return Publish(std::move(again));
}

}  // namespace cohort::server
