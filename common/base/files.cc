#include "common/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"

namespace cohort::base {
namespace {


WriteStepHook write_step_hook = nullptr;

void AtStep(const std::string& path, WriteStep step) {
  if (write_step_hook != nullptr) write_step_hook(path, step);
}

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return ErrnoError("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     int64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no such file: ", path));
  }
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("stat ", path, ": ", ec.message()));
  if (static_cast<int64_t>(size) > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        path, " is ", size, " bytes, over the limit of ", max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("open", path);
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) {
    return absl::InternalError(absl::StrCat("short read on ", path));
  }
  return data;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents, int mode) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.has_parent_path()
                                  ? target.parent_path()
                                  : std::filesystem::path(".");
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  AtStep(path, WriteStep::kBeforeTemp);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  static_cast<mode_t>(mode));
  if (fd < 0) return ErrnoError("create", tmp);
  // A stale temp file keeps its old bits through O_CREAT; set them.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    absl::Status s = ErrnoError("chmod", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoError("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = ErrnoError("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  AtStep(path, WriteStep::kBeforeRename);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoError("rename", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  AtStep(path, WriteStep::kBeforeDirSync);
  return FsyncPath(dir.string(), O_RDONLY | O_DIRECTORY);
}

void SetWriteStepHookForTesting(WriteStepHook hook) { write_step_hook = hook; }

int RemoveStaleTempFiles(const std::string& dir) {
  std::error_code ec;
  int removed = 0;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t mark = name.rfind(".tmp.");
    if (mark == std::string::npos || mark + 5 >= name.size() ||
        name.find_first_not_of("0123456789", mark + 5) != std::string::npos) {
      continue;
    }
    std::error_code gone;
    if (std::filesystem::remove(it->path(), gone)) ++removed;
  }
  return removed;
}

absl::Status EnsureWritableDir(const std::string& path,
                               const std::string& field) {
  auto refuse = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, " ", path, ": ", why));
  };
  if (path.empty()) return refuse("is empty");
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return refuse(absl::StrCat("cannot be created: ", ec.message()));
  if (!std::filesystem::is_directory(path, ec)) {
    return refuse("is not a directory");
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    return refuse(absl::StrCat("is not writable by this user (uid ",
                               ::geteuid(), "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("mkdir ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace cohort::base
