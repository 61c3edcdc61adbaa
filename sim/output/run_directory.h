#ifndef COHORT_SIM_OUTPUT_RUN_DIRECTORY_H_
#define COHORT_SIM_OUTPUT_RUN_DIRECTORY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::sim {

// The output folder of one simulator run: <base>/<name>/, never reused, with
// <base>/latest a relative symlink to the newest run.
//
//   runs/
//     baseline/        first run named "baseline"
//     baseline-2/      second run named "baseline"; runs are never overwritten
//     latest -> baseline-2
//
// A RunDirectory is a plain value (a path) and copyable; it owns nothing on
// disk beyond what Create() made. Create() is safe to call concurrently, from
// threads or processes, with the same base and name: mkdir() picks distinct
// folders, and `latest` ends up pointing at one of them.
class RunDirectory {
 public:
  // The symlink in the base directory that points at the newest run.
  static constexpr char kLatestName[] = "latest";

  // Creates <base_dir> (and parents) if needed, then <base_dir>/<name>, or
  // <name>-2, <name>-3, ... if taken, and atomically repoints
  // <base_dir>/latest at it (a symlink made under a temporary name and
  // rename()d over `latest`, so readers always see an old or new target).
  //
  // INVALID_ARGUMENT if `name` is not a valid name (see WriteText) or is
  //   "latest", or `base_dir` is empty.
  // FAILED_PRECONDITION if <base_dir>/latest exists and is not a symlink
  //   (a real directory or file is never replaced); nothing is created.
  // RESOURCE_EXHAUSTED if <name> through <name>-100000 all exist.
  // INTERNAL on other filesystem errors.
  static absl::StatusOr<RunDirectory> Create(const std::string& base_dir,
                                             const std::string& name);

  // The run folder, "<base_dir>/<chosen name>" (relative if base_dir is).
  const std::string& path() const { return path_; }
  // The chosen folder name, e.g. "baseline-2".
  const std::string& name() const { return name_; }
  // "<path()>/<file_name>"; does not touch the disk or validate.
  std::string File(absl::string_view file_name) const;

  // Writes <path()>/<file_name> with base::WriteFileAtomically.
  // INVALID_ARGUMENT if `file_name` is empty, ".", "..", longer than 200
  // bytes, or contains '/' or NUL. INTERNAL on I/O errors.
  absl::Status WriteText(absl::string_view file_name,
                         absl::string_view contents) const;

  // OK if `name` is usable as a run or file name, else INVALID_ARGUMENT
  // with the reason.
  static absl::Status ValidateName(absl::string_view name);

 private:
  RunDirectory(std::string path, std::string name)
      : path_(std::move(path)), name_(std::move(name)) {}

  std::string path_;
  std::string name_;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_OUTPUT_RUN_DIRECTORY_H_
