#ifndef COHORT_COMMON_BASE_ERROR_ONCE_H_
#define COHORT_COMMON_BASE_ERROR_ONCE_H_

#include <string>

#include "absl/status/status.h"

namespace cohort::base {

// Decides when a repeated failure is worth a log line: the first time a
// given error is seen, not again while the same error repeats (a full disk
// would otherwise log on every cycle), and again after a success or a
// different error. Not thread-safe; one per writer.
class ErrorOnce {
 public:
  // True when `status` is an error to log now. Remembers it; an OK status
  // forgets the last error.
  bool ShouldLog(const absl::Status& status) {
    if (status.ok()) {
      last_.clear();
      return false;
    }
    std::string now = status.ToString();
    if (now == last_) return false;
    last_ = std::move(now);
    return true;
  }

 private:
  std::string last_;
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_ERROR_ONCE_H_
