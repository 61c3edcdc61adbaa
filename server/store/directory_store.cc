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
  COHORT_RETURN_IF_ERROR(base::MakeDirs(root));
  COHORT_RETURN_IF_ERROR(MakeDirDurably(root, "tasks"));
  COHORT_RETURN_IF_ERROR(MakeDirDurably(root, "devices"));
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

absl::Status DirectoryStore::ReadWeights(VersionMeta* meta) const {
  std::string path =
      VersionPath(meta->record.task, meta->record.version, ".weights");
  COHORT_ASSIGN_OR_RETURN(std::string data,
                          ReadRequired(path, meta->weights_bytes));
  if (static_cast<int64_t>(data.size()) != meta->weights_bytes ||
      WeightsChecksum(data) != meta->weights_crc32) {
    return absl::DataLossError(
        absl::StrCat("corrupt store file ", path, ": ", data.size(),
                     " bytes that do not match the size ", meta->weights_bytes,
                     " and CRC-32 recorded in its .meta file"));
  }
  meta->record.weights = std::move(data);
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
  absl::MutexLock lock(&write_mu_);
  ScopedFlock flock(lock_fd_);
  COHORT_RETURN_IF_ERROR(flock.status());
  COHORT_ASSIGN_OR_RETURN(int64_t current, ReadCurrent(record.task));
  if (record.parent != current) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", record.task, ": commit of version ",
                     record.version, " names parent ", record.parent,
                     " but the current version is ", current));
  }
  // Committed versions never exceed `current` < record.version, so any file
  // already under this number is a crash leftover and is overwritten.
  COHORT_RETURN_IF_ERROR(
      MakeDirDurably(absl::StrCat(root_, "/tasks"), record.task));
  COHORT_RETURN_IF_ERROR(MakeDirDurably(TaskDir(record.task), "versions"));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      VersionPath(record.task, record.version, ".weights"), record.weights));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      VersionPath(record.task, record.version, ".meta"),
      EncodeVersionMeta(record)));
  // The commit point: until this rename the new files are unreachable.
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
  std::vector<VersionMeta> chain;
  if (version > 0) {
    COHORT_ASSIGN_OR_RETURN(chain, ReadChain(task, version));
  }
  if (chain.empty() || chain.back().record.version != version) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no version ", version));
  }
  COHORT_RETURN_IF_ERROR(ReadWeights(&chain.back()));
  return std::move(chain.back().record);
}

absl::StatusOr<std::vector<ModelVersionRecord>> DirectoryStore::ListVersions(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(std::vector<VersionMeta> chain,
                          ReadChain(task, /*stop_at=*/0));
  std::vector<ModelVersionRecord> versions;
  versions.reserve(chain.size());
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    versions.push_back(std::move(it->record));
  }
  return versions;
}

absl::StatusOr<int64_t> DirectoryStore::LastRoundId(const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_ASSIGN_OR_RETURN(std::vector<VersionMeta> chain,
                          ReadChain(task, /*stop_at=*/0));
  int64_t last = 0;
  for (const VersionMeta& meta : chain) {
    last = std::max(last, meta.record.round_id);
  }
  return last;
}

absl::Status DirectoryStore::RecordDevice(const std::string& device_id,
                                          int64_t seen_unix_ms,
                                          int64_t check_ins,
                                          int64_t reports_accepted,
                                          int64_t reports_rejected) {
  COHORT_RETURN_IF_ERROR(ValidateDeviceUpdate(
      device_id, check_ins, reports_accepted, reports_rejected));
  absl::MutexLock lock(&write_mu_);
  ScopedFlock flock(lock_fd_);
  COHORT_RETURN_IF_ERROR(flock.status());
  DeviceRecord device;
  absl::StatusOr<DeviceRecord> existing = GetDevice(device_id);
  if (existing.ok()) {
    device = *std::move(existing);
  } else if (absl::IsNotFound(existing.status())) {
    device.device_id = device_id;
  } else {
    return existing.status();
  }
  device.last_seen_unix_ms = seen_unix_ms;
  device.check_ins += check_ins;
  device.reports_accepted += reports_accepted;
  device.reports_rejected += reports_rejected;
  return base::WriteFileAtomically(DevicePath(device_id), EncodeDevice(device));
}

absl::StatusOr<DeviceRecord> DirectoryStore::GetDevice(
    const std::string& device_id) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(device_id, "device id"));
  std::string path = DevicePath(device_id);
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadOptional(path, kMaxSmallFileBytes));
  if (!text.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("device ", device_id, " has never checked in"));
  }
  COHORT_ASSIGN_OR_RETURN(DeviceRecord device, DecodeDevice(*text, path));
  if (device.device_id != device_id) {
    return absl::DataLossError(absl::StrCat("corrupt store file ", path,
                                            ": holds device \"",
                                            device.device_id, "\""));
  }
  return device;
}

}  // namespace cohort::server
