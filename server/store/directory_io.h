#ifndef COHORT_SERVER_STORE_DIRECTORY_IO_H_
#define COHORT_SERVER_STORE_DIRECTORY_IO_H_

// File-system steps that DirectoryStore's version, release, device and
// enrollment code share: durable directory creation, the writer's flock() and
// reads that map absence and oversize files to the store's status codes.
// Internal to DirectoryStore.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::server::directory_internal {

// Size limits for reading files back; anything larger is damage.
// CURRENT, CURRENT_RELEASE and device files:
inline constexpr int64_t kMaxSmallFileBytes = int64_t{64} << 10;
// .meta files:
inline constexpr int64_t kMaxMetaBytes = int64_t{16} << 20;
// .release files: C-escaping at most quadruples the manifest, reason and
// actor that ValidateRelease (store_util.h) admits, which stays below this.
inline constexpr int64_t kMaxReleaseFileBytes = int64_t{8} << 20;
// .token files: C-escaping at most quadruples the created_by and device id
// that ValidateEnrollmentToken (store_util.h) admits.
inline constexpr int64_t kMaxTokenFileBytes = int64_t{1} << 20;

// Creates the directory `parent`/`name` if missing. A new entry is fsynced
// into `parent`, so that files renamed into it later cannot outlive it.
// INTERNAL on I/O errors, or if the path exists and is not a directory.
absl::Status MakeDirDurably(const std::string& parent, const std::string& name);

// Holds flock(LOCK_EX) on a descriptor for the duration of one write.
// status() is INTERNAL if the lock could not be taken.
class ScopedFlock {
 public:
  explicit ScopedFlock(int fd);
  ~ScopedFlock();
  ScopedFlock(const ScopedFlock&) = delete;
  ScopedFlock& operator=(const ScopedFlock&) = delete;
  const absl::Status& status() const { return status_; }

 private:
  int fd_;
  absl::Status status_;
};

// Reads a file that the committed state refers to, so absence is damage:
// DATA_LOSS naming `path` if it is missing or larger than `max_bytes`;
// INTERNAL on other read errors.
absl::StatusOr<std::string> ReadRequired(const std::string& path,
                                         int64_t max_bytes);

// Reads a file that may legitimately be absent: std::nullopt if it is
// missing; DATA_LOSS naming `path` if it is larger than `max_bytes`;
// INTERNAL on other read errors.
absl::StatusOr<std::optional<std::string>> ReadOptional(const std::string& path,
                                                        int64_t max_bytes);

}  // namespace cohort::server::directory_internal

#endif  // COHORT_SERVER_STORE_DIRECTORY_IO_H_
