#ifndef COHORT_COMMON_BASE_ERRNO_STATUS_H_
#define COHORT_COMMON_BASE_ERRNO_STATUS_H_

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cohort::base {

// The one conversion of a failed system call into a Status, so every such
// error reads "<what> <path>: <strerror(err)>" (or "<what>: ..." without a
// path). INTERNAL: the callers treat a local I/O failure as a fault, not as
// something to retry. Pass `err` explicitly when errno may have changed
// since the call failed.
absl::Status ErrnoError(absl::string_view what, absl::string_view path = "",
                        int err = errno);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_ERRNO_STATUS_H_
