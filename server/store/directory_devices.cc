// DirectoryStore's device files: devices/<device_id>.device (layout in
// directory_store.h, format in directory_format.h).

#include <dirent.h>

#include <cerrno>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/base/errno_status.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "server/store/device_page.h"
#include "server/store/directory_format.h"
#include "server/store/directory_io.h"
#include "server/store/directory_store.h"
#include "server/store/store_util.h"

namespace cohort::server {

using directory_internal::kMaxSmallFileBytes;
using directory_internal::ReadOptional;
using directory_internal::ScopedFlock;

namespace {

// The device id a directory entry is the file of, or "" for any other entry
// (".", "..", a temp file "<id>.device.tmp.<pid>" left by a crash).
std::string DeviceIdOf(absl::string_view entry) {
  if (!absl::ConsumeSuffix(&entry, ".device")) return "";
  if (!ValidateStoreName(entry, "device id").ok()) return "";
  return std::string(entry);
}

// The `limit` smallest device ids in `dir` above `after`, ascending. Keeps
// only those in memory, however many devices there are.
absl::StatusOr<std::vector<std::string>> DeviceIdsAfter(
    const std::string& dir, const std::string& after, int limit) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()),
                                             &::closedir);
  if (handle == nullptr) return base::ErrnoError("opendir", dir);
  std::set<std::string> ids;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(handle.get());
    if (entry == nullptr) {
      if (errno != 0) return base::ErrnoError("readdir", dir);
      break;
    }
    std::string id = DeviceIdOf(entry->d_name);
    if (id.empty() || id <= after) continue;
    ids.insert(std::move(id));
    if (ids.size() > static_cast<size_t>(limit)) {
      ids.erase(std::prev(ids.end()));
    }
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

}  // namespace

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

absl::StatusOr<std::vector<DeviceRecord>> DirectoryStore::ListDevices(
    const std::string& after, int limit) {
  COHORT_RETURN_IF_ERROR(ValidateDevicePage(after, limit));
  COHORT_ASSIGN_OR_RETURN(
      std::vector<std::string> ids,
      DeviceIdsAfter(absl::StrCat(root_, "/devices"), after, limit));
  std::vector<DeviceRecord> devices;
  devices.reserve(ids.size());
  for (const std::string& id : ids) {
    // Device files are never removed, so a listed id reads back.
    COHORT_ASSIGN_OR_RETURN(DeviceRecord device, GetDevice(id));
    devices.push_back(std::move(device));
  }
  return devices;
}

}  // namespace cohort::server
