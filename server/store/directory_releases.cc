// DirectoryStore's release log: releases/<r>.release files and the
// CURRENT_RELEASE pointer (layout in directory_store.h, formats in
// directory_format.h).

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "server/store/directory_format.h"
#include "server/store/directory_io.h"
#include "server/store/directory_store.h"
#include "server/store/store_util.h"

namespace cohort::server {

using directory_internal::kMaxReleaseFileBytes;
using directory_internal::kMaxSmallFileBytes;
using directory_internal::MakeDirDurably;
using directory_internal::ReadOptional;
using directory_internal::ReadRequired;
using directory_internal::ScopedFlock;

// Every release ValidateRelease admits must read back under the file limit:
// CEscape writes at most four bytes per input byte, plus the other fields.
static_assert(4 * (kMaxSignedManifestBytes + 2 * kMaxReleaseTextBytes +
                   kMaxStoreNameLength) +
                  4096 <
              static_cast<size_t>(kMaxReleaseFileBytes));

std::string DirectoryStore::CurrentReleasePath(const std::string& task) const {
  return absl::StrCat(TaskDir(task), "/CURRENT_RELEASE");
}

std::string DirectoryStore::ReleasePath(const std::string& task,
                                        int64_t release) const {
  return absl::StrCat(TaskDir(task), "/releases/", release, ".release");
}

absl::StatusOr<int64_t> DirectoryStore::ReadCurrentRelease(
    const std::string& task) const {
  std::string path = CurrentReleasePath(task);
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadOptional(path, kMaxSmallFileBytes));
  if (!text.has_value()) return 0;
  return DecodeCurrentRelease(*text, path);
}

absl::StatusOr<ReleaseRecord> DirectoryStore::ReadRelease(
    const std::string& task, int64_t release) const {
  std::string path = ReleasePath(task, release);
  COHORT_ASSIGN_OR_RETURN(std::string text,
                          ReadRequired(path, kMaxReleaseFileBytes));
  COHORT_ASSIGN_OR_RETURN(ReleaseRecord record, DecodeRelease(text, path));
  if (record.task != task || record.release != release) {
    return absl::DataLossError(absl::StrCat(
        "corrupt store file ", path, ": holds task \"",
        absl::CHexEscape(record.task), "\" release ", record.release));
  }
  return record;
}

absl::Status DirectoryStore::CheckCommitted(const ReleaseRecord& record) const {
  COHORT_ASSIGN_OR_RETURN(std::vector<int64_t> held, ReadHeld(record.task));
  if (std::binary_search(held.begin(), held.end(), record.version)) {
    return CheckReleasable(record, true);
  }
  std::vector<VersionMeta> chain;
  if (record.version > 0) {
    COHORT_ASSIGN_OR_RETURN(chain, ReadChain(record.task, record.version));
  }
  bool found = !chain.empty() && chain.back().record.version == record.version;
  return CheckReleasable(record,
                         found ? std::optional<bool>(false) : std::nullopt);
}

absl::Status DirectoryStore::AppendRelease(const ReleaseRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateRelease(record));
  COHORT_RETURN_IF_ERROR(
      CheckLeaseEpoch(record.task, std::nullopt, record.lease_epoch));
  const std::string& task = record.task;
  absl::MutexLock lock(&write_mu_);
  ScopedFlock flock(lock_fd_);
  COHORT_RETURN_IF_ERROR(flock.status());
  COHORT_ASSIGN_OR_RETURN(int64_t current, ReadCurrentRelease(task));
  // release >= 1 here, so release - 1 cannot overflow (current + 1 could).
  if (record.release - 1 != current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", task, ": release ", record.release,
        " must be the current release + 1; the current release is ", current));
  }
  COHORT_RETURN_IF_ERROR(CheckCommitted(record));
  // The task directory exists: it holds the committed version.
  COHORT_RETURN_IF_ERROR(MakeDirDurably(TaskDir(task), "releases"));
  // Committed releases never exceed `current` < record.release, so a file
  // already under this number is a crash leftover and is overwritten.
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      ReleasePath(task, record.release), EncodeRelease(record)));
  // The commit point: until this rename the new file is unreachable.
  return base::WriteFileAtomically(CurrentReleasePath(task),
                                   EncodeCurrentRelease(record.release));
}

absl::StatusOr<std::optional<ReleaseRecord>> DirectoryStore::GetCurrentRelease(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(int64_t release, ReadCurrentRelease(task));
  if (release == 0) return std::optional<ReleaseRecord>();
  COHORT_ASSIGN_OR_RETURN(ReleaseRecord record, ReadRelease(task, release));
  return std::optional<ReleaseRecord>(std::move(record));
}

absl::StatusOr<std::vector<ReleaseRecord>> DirectoryStore::ListReleases(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(int64_t current, ReadCurrentRelease(task));
  // No reserve(current): a damaged pointer could ask for any size, and the
  // first missing file ends the loop with DATA_LOSS anyway.
  std::vector<ReleaseRecord> releases;
  for (int64_t release = 1; release <= current; ++release) {
    COHORT_ASSIGN_OR_RETURN(ReleaseRecord record, ReadRelease(task, release));
    releases.push_back(std::move(record));
  }
  return releases;
}

absl::StatusOr<ReleaseRecord> DirectoryStore::GetRelease(
    const std::string& task, int64_t release) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(int64_t current, ReadCurrentRelease(task));
  if (release < 1 || release > current) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no release ", release));
  }
  return ReadRelease(task, release);
}

}  // namespace cohort::server
