#include "server/store/directory_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "server/store/directory_io.h"
#include "server/store/store_util.h"

namespace cohort::server {

using base::ErrnoError;
using directory_internal::kMaxMetaBytes;
using directory_internal::kMaxSmallFileBytes;
using directory_internal::MakeDirDurably;
using directory_internal::ReadOptional;
using directory_internal::ReadRequired;
using directory_internal::ScopedFlock;

absl::StatusOr<std::unique_ptr<DirectoryStore>> DirectoryStore::Open(
    const std::string& root) {
  if (root.empty()) return absl::InvalidArgumentError("store root is empty");
  COHORT_RETURN_IF_ERROR(base::EnsureWritableDir(root, "store.directory"));
  COHORT_RETURN_IF_ERROR(MakeDirDurably(root, "tasks"));
  COHORT_RETURN_IF_ERROR(MakeDirDurably(root, "devices"));
  // Stores made before enrollment tokens existed get the folder here.
  COHORT_RETURN_IF_ERROR(MakeDirDurably(root, "enrollment"));
  std::string lock_path = absl::StrCat(root, "/LOCK");
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", lock_path);
  return std::unique_ptr<DirectoryStore>(new DirectoryStore(root, fd));
}

DirectoryStore::DirectoryStore(std::string root, int lock_fd)
    : root_(std::move(root)), lock_fd_(lock_fd) {}

DirectoryStore::~DirectoryStore() { ::close(lock_fd_); }

std::string DirectoryStore::TaskDir(const std::string& task) const {
  return absl::StrCat(root_, "/tasks/", task);
}

std::string DirectoryStore::CurrentPath(const std::string& task) const {
  return absl::StrCat(TaskDir(task), "/CURRENT");
}

std::string DirectoryStore::HeldPath(const std::string& task) const {
  return absl::StrCat(TaskDir(task), "/HELD");
}

std::string DirectoryStore::VersionPath(const std::string& task,
                                        int64_t version,
                                        const char* suffix) const {
  return absl::StrCat(TaskDir(task), "/versions/", version, suffix);
}

std::string DirectoryStore::DevicePath(const std::string& device_id) const {
  return absl::StrCat(root_, "/devices/", device_id, ".device");
}

absl::StatusOr<int64_t> DirectoryStore::ReadCurrent(
    const std::string& task) const {
  std::string path = CurrentPath(task);
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadOptional(path, kMaxSmallFileBytes));
  if (!text.has_value()) return 0;
  return DecodeCurrent(*text, path);
}

absl::StatusOr<std::vector<int64_t>> DirectoryStore::ReadHeld(
    const std::string& task) const {
  std::string path = HeldPath(task);
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadOptional(path, kMaxMetaBytes));
  if (!text.has_value()) return std::vector<int64_t>();
  return DecodeHeld(*text, path);
}

absl::StatusOr<VersionMeta> DirectoryStore::ReadMeta(const std::string& task,
                                                     int64_t version) const {
  std::string path = VersionPath(task, version, ".meta");
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadRequired(path, kMaxMetaBytes));
  COHORT_ASSIGN_OR_RETURN(VersionMeta meta, DecodeVersionMeta(text, path));
  if (meta.record.task != task || meta.record.version != version) {
    return absl::DataLossError(
        absl::StrCat("corrupt store file ", path, ": holds task \"",
                     meta.record.task, "\" version ", meta.record.version));
  }
  return meta;
}

absl::StatusOr<std::string> DirectoryStore::ReadChecked(const VersionMeta& meta,
                                                        const char* suffix,
                                                        int64_t bytes,
                                                        uint32_t crc32) const {
  std::string path = VersionPath(meta.record.task, meta.record.version, suffix);
  COHORT_ASSIGN_OR_RETURN(std::string data, ReadRequired(path, bytes));
  if (static_cast<int64_t>(data.size()) != bytes ||
      WeightsChecksum(data) != crc32) {
    return absl::DataLossError(
        absl::StrCat("corrupt store file ", path, ": ", data.size(),
                     " bytes that do not match the size ", bytes,
                     " and CRC-32 recorded in its .meta file"));
  }
  return data;
}

absl::Status DirectoryStore::ReadWeights(VersionMeta* meta) const {
  COHORT_ASSIGN_OR_RETURN(
      meta->record.weights,
      ReadChecked(*meta, ".weights", meta->weights_bytes, meta->weights_crc32));
  if (meta->optimizer_bytes == 0) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(
      meta->record.optimizer_state,
      ReadChecked(*meta, ".optimizer", meta->optimizer_bytes,
                  meta->optimizer_crc32));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<VersionMeta>> DirectoryStore::ReadChain(
    const std::string& task, int64_t stop_at) const {
  COHORT_ASSIGN_OR_RETURN(int64_t version, ReadCurrent(task));
  std::vector<VersionMeta> chain;
  // DecodeVersionMeta guarantees parent < version, so this terminates.
  while (version > 0) {
    COHORT_ASSIGN_OR_RETURN(VersionMeta meta, ReadMeta(task, version));
    version = meta.record.parent;
    chain.push_back(std::move(meta));
    if (chain.back().record.version <= stop_at) break;
  }
  return chain;
}

absl::Status DirectoryStore::CommitVersion(const ModelVersionRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateCommit(record));
  // No leases here: one coordinator per directory.
  COHORT_RETURN_IF_ERROR(
      CheckLeaseEpoch(record.task, std::nullopt, record.lease_epoch));
  absl::MutexLock lock(&write_mu_);
  ScopedFlock flock(lock_fd_);
  COHORT_RETURN_IF_ERROR(flock.status());
  COHORT_ASSIGN_OR_RETURN(int64_t current, ReadCurrent(record.task));
  COHORT_ASSIGN_OR_RETURN(std::vector<int64_t> held, ReadHeld(record.task));
  // Chain versions are <= current < record.version, so only a held version
  // can take the number.
  COHORT_RETURN_IF_ERROR(CheckCommitOrder(
      record, current, held.empty() ? current : std::max(current, held.back()),
      std::binary_search(held.begin(), held.end(), record.version)));
  // Any file already under this number is a crash leftover: overwritten.
  COHORT_RETURN_IF_ERROR(
      MakeDirDurably(absl::StrCat(root_, "/tasks"), record.task));
  COHORT_RETURN_IF_ERROR(MakeDirDurably(TaskDir(record.task), "versions"));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      VersionPath(record.task, record.version, ".weights"), record.weights));
  if (!record.optimizer_state.empty()) {
    COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
        VersionPath(record.task, record.version, ".optimizer"),
        record.optimizer_state));
  }
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      VersionPath(record.task, record.version, ".meta"),
      EncodeVersionMeta(record)));
  // The commit point: until this rename the new files are unreachable.
  if (record.held) {
    held.push_back(record.version);
    return base::WriteFileAtomically(HeldPath(record.task), EncodeHeld(held));
  }
  return base::WriteFileAtomically(CurrentPath(record.task),
                                   EncodeCurrent(record.version));
}

absl::StatusOr<std::optional<ModelVersionRecord>> DirectoryStore::GetCurrent(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(int64_t version, ReadCurrent(task));
  if (version == 0) return std::optional<ModelVersionRecord>();
  COHORT_ASSIGN_OR_RETURN(VersionMeta meta, ReadMeta(task, version));
  COHORT_RETURN_IF_ERROR(ReadWeights(&meta));
  return std::optional<ModelVersionRecord>(std::move(meta.record));
}

absl::StatusOr<ModelVersionRecord> DirectoryStore::GetVersion(
    const std::string& task, int64_t version) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(std::vector<int64_t> held, ReadHeld(task));
  std::vector<VersionMeta> chain;
  if (std::binary_search(held.begin(), held.end(), version)) {
    COHORT_ASSIGN_OR_RETURN(VersionMeta meta, ReadMeta(task, version));
    chain.push_back(std::move(meta));
  } else if (version > 0) {
    COHORT_ASSIGN_OR_RETURN(chain, ReadChain(task, version));
  }
  if (chain.empty() || chain.back().record.version != version) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no version ", version));
  }
  COHORT_RETURN_IF_ERROR(ReadWeights(&chain.back()));
  return std::move(chain.back().record);
}

absl::StatusOr<std::vector<VersionMeta>> DirectoryStore::ReadAll(
    const std::string& task) const {
  COHORT_ASSIGN_OR_RETURN(std::vector<VersionMeta> all,
                          ReadChain(task, /*stop_at=*/0));
  COHORT_ASSIGN_OR_RETURN(std::vector<int64_t> held, ReadHeld(task));
  for (int64_t version : held) {
    COHORT_ASSIGN_OR_RETURN(VersionMeta meta, ReadMeta(task, version));
    all.push_back(std::move(meta));
  }
  std::sort(all.begin(), all.end(),
            [](const VersionMeta& a, const VersionMeta& b) {
              return a.record.version < b.record.version;
            });
  return all;
}

absl::StatusOr<std::vector<ModelVersionRecord>> DirectoryStore::ListVersions(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(std::vector<VersionMeta> all, ReadAll(task));
  std::vector<ModelVersionRecord> versions;
  versions.reserve(all.size());
  for (VersionMeta& meta : all) versions.push_back(std::move(meta.record));
  return versions;
}

absl::StatusOr<int64_t> DirectoryStore::LastRoundId(const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(std::vector<VersionMeta> all, ReadAll(task));
  int64_t last = 0;
  for (const VersionMeta& meta : all) {
    last = std::max(last, meta.record.round_id);
  }
  return last;
}

}  // namespace cohort::server
