#include "sim/output/run_directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"

namespace cohort::sim {

using base::ErrnoError;
namespace {

constexpr size_t kMaxNameBytes = 200;  // Leaves room for "-100000" in NAME_MAX.
constexpr int kMaxSuffix = 100000;


std::string StripTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Checked before anything is created so a refused run leaves no empty folder.
absl::Status CheckLatestReplaceable(const std::string& latest) {
  struct stat st;
  if (::lstat(latest.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("cannot stat", latest);
  }
  if (S_ISLNK(st.st_mode)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(latest, " exists and is not a symlink (",
                   S_ISDIR(st.st_mode) ? "a directory" : "a file",
                   "); move it away so it can point at the newest run"));
}

// mkdir() is the atomic claim: two runs racing for the same name get
// different suffixes instead of sharing a folder.
absl::StatusOr<std::string> ClaimUniqueDir(const std::string& base,
                                           const std::string& name) {
  for (int i = 1; i <= kMaxSuffix; ++i) {
    std::string candidate = i == 1 ? name : absl::StrCat(name, "-", i);
    std::string path = absl::StrCat(base, "/", candidate);
    if (::mkdir(path.c_str(), 0755) == 0) return candidate;
    if (errno != EEXIST) return ErrnoError("cannot create", path);
  }
  return absl::ResourceExhaustedError(absl::StrCat("runs ", name, " through ",
                                                   name, "-", kMaxSuffix,
                                                   " all exist in ", base));
}

absl::Status PointLatestAt(const std::string& base, const std::string& target) {
  static std::atomic<int> counter{0};
  std::string latest = absl::StrCat(base, "/", RunDirectory::kLatestName);
  std::string tmp = absl::StrCat(base, "/.", RunDirectory::kLatestName, ".tmp.",
                                 ::getpid(), ".", counter++);
  // Relative, so the whole base folder can be moved or copied.
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    return ErrnoError("cannot create symlink", tmp);
  }
  if (::rename(tmp.c_str(), latest.c_str()) != 0) {
    int rename_errno = errno;
    ::unlink(tmp.c_str());
    if (rename_errno == EISDIR || rename_errno == ENOTEMPTY ||
        rename_errno == EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          latest, " became a directory; not replacing it (run is in ", base,
          "/", target, ")"));
    }
    errno = rename_errno;
    return ErrnoError("cannot rename symlink over", latest);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDirectory::ValidateName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("name is empty");
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("name \"", name, "\" is not allowed"));
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name is ", name.size(), " bytes, over the limit of ", kMaxNameBytes));
  }
  if (name.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("name \"", name, "\" contains '/'"));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("name contains a NUL byte");
  }
  return absl::OkStatus();
}

absl::StatusOr<RunDirectory> RunDirectory::Create(const std::string& base_dir,
                                                  const std::string& name) {
  if (base_dir.empty()) return absl::InvalidArgumentError("base_dir is empty");
  COHORT_RETURN_IF_ERROR(ValidateName(name));
  if (name == kLatestName) {
    return absl::InvalidArgumentError(absl::StrCat(
        "run name \"", name, "\" is reserved for the newest-run symlink"));
  }
  std::string base = StripTrailingSlashes(base_dir);
  COHORT_RETURN_IF_ERROR(base::MakeDirs(base));
  COHORT_RETURN_IF_ERROR(
      CheckLatestReplaceable(absl::StrCat(base, "/", kLatestName)));
  COHORT_ASSIGN_OR_RETURN(std::string chosen, ClaimUniqueDir(base, name));
  COHORT_RETURN_IF_ERROR(PointLatestAt(base, chosen));
  std::string path = absl::StrCat(base, "/", chosen);
  return RunDirectory(std::move(path), std::move(chosen));
}

std::string RunDirectory::File(absl::string_view file_name) const {
  return absl::StrCat(path_, "/", file_name);
}

absl::Status RunDirectory::WriteText(absl::string_view file_name,
                                     absl::string_view contents) const {
  COHORT_RETURN_IF_ERROR(ValidateName(file_name));
  return base::WriteFileAtomically(File(file_name), std::string(contents));
}

}  // namespace cohort::sim
