#ifndef COHORT_COMMON_BASE_FILES_H_
#define COHORT_COMMON_BASE_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::base {

// Reads a whole file. NOT_FOUND if missing, RESOURCE_EXHAUSTED if larger than
// max_bytes, INTERNAL on read errors.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     int64_t max_bytes = int64_t{1} << 30);

// Writes `contents` durably: a temp file in the same directory, fsync, rename
// over `path`, fsync of the directory. A crash leaves either the old or the new
// file, never a torn one. The file gets permission bits `mode` (before the
// umask), e.g. 0600 for a private key. INTERNAL on I/O errors.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents, int mode = 0644);

// The points of WriteFileAtomically a crash test stops a process at: the
// temp file is about to be created; it is written and synced but not yet
// renamed; it is renamed but the folder is not yet synced.
enum class WriteStep { kBeforeTemp, kBeforeRename, kBeforeDirSync };

// A fault-injection seam for crash tests (null, the default, in every
// binary): called at each WriteStep of every WriteFileAtomically with the
// target path, e.g. to raise SIGKILL at the n-th call. Set it before
// threads start; it is a plain function pointer so the hot path costs one
// load.
using WriteStepHook = void (*)(const std::string& path, WriteStep step);
void SetWriteStepHookForTesting(WriteStepHook hook);

// Removes the temp files a killed WriteFileAtomically left in `dir`
// ("<name>.tmp.<pid>"); returns how many. Run it at start-up, before any
// writer: a temp file of a live writer would be removed too. Missing `dir`:
// 0.
int RemoveStaleTempFiles(const std::string& dir);

// Creates a directory and its parents. OK if it exists.
absl::Status MakeDirs(const std::string& path);

// Makes sure a daemon can keep its state in `path`: creates it (and its
// parents) if missing, then checks that it is a directory this process may
// write to. FAILED_PRECONDITION otherwise, with a message that starts with
// `field` (the config field that named it) and names the path, so a
// start-up mistake is reported before any work is done.
absl::Status EnsureWritableDir(const std::string& path,
                               const std::string& field);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_FILES_H_
