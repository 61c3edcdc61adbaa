#include "server/store/lease_fenced_store.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace cohort::server {
namespace {

absl::Status NotLeading(const std::string& task) {
  return absl::AbortedError(
      absl::StrCat("this coordinator holds no lease on task ", task,
                   ", so it does not write it"));
}

}  // namespace

absl::Status LeaseFencedStore::CommitVersion(const ModelVersionRecord& record) {
  const int64_t epoch = epoch_.load();
  if (epoch == 0) return NotLeading(record.task);
  ModelVersionRecord fenced = record;
  fenced.lease_epoch = epoch;
  return ForwardingStore::CommitVersion(fenced);
}

absl::Status LeaseFencedStore::AppendRelease(const ReleaseRecord& record) {
  const int64_t epoch = epoch_.load();
  if (epoch == 0) return NotLeading(record.task);
  ReleaseRecord fenced = record;
  fenced.lease_epoch = epoch;
  return ForwardingStore::AppendRelease(fenced);
}

}  // namespace cohort::server
