#include "server/store/directory_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"
#include "common/base/files.h"

namespace cohort::server::directory_internal {

using base::ErrnoError;
namespace {

absl::Status FsyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync", path);
  return absl::OkStatus();
}

absl::Status TooLarge(const std::string& path, const absl::Status& status) {
  return absl::DataLossError(
      absl::StrCat("corrupt store file ", path, ": ", status.message()));
}

}  // namespace

absl::Status MakeDirDurably(const std::string& parent,
                            const std::string& name) {
  std::string path = absl::StrCat(parent, "/", name);
  if (::mkdir(path.c_str(), 0755) == 0) return FsyncDir(parent);
  struct stat st;
  if (errno == EEXIST && ::stat(path.c_str(), &st) == 0 &&
      S_ISDIR(st.st_mode)) {
    return absl::OkStatus();
  }
  return ErrnoError("mkdir", path);
}

ScopedFlock::ScopedFlock(int fd) : fd_(fd) {
  int rc;
  do {
    rc = ::flock(fd_, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) status_ = ErrnoError("flock", "<root>/LOCK");
}

ScopedFlock::~ScopedFlock() {
  if (status_.ok()) ::flock(fd_, LOCK_UN);
}

absl::StatusOr<std::string> ReadRequired(const std::string& path,
                                         int64_t max_bytes) {
  absl::StatusOr<std::string> data = base::ReadFile(path, max_bytes);
  if (absl::IsNotFound(data.status())) {
    return absl::DataLossError(absl::StrCat("missing store file ", path));
  }
  if (absl::IsResourceExhausted(data.status())) {
    return TooLarge(path, data.status());
  }
  return data;
}

absl::StatusOr<std::optional<std::string>> ReadOptional(const std::string& path,
                                                        int64_t max_bytes) {
  absl::StatusOr<std::string> data = base::ReadFile(path, max_bytes);
  if (absl::IsNotFound(data.status())) return std::optional<std::string>();
  if (absl::IsResourceExhausted(data.status())) {
    return TooLarge(path, data.status());
  }
  if (!data.ok()) return data.status();
  return std::optional<std::string>(*std::move(data));
}

}  // namespace cohort::server::directory_internal
