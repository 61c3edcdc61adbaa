#include "common/base/errno_status.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace cohort::base {

absl::Status ErrnoError(absl::string_view what, absl::string_view path, int err) {
  const char* reason = std::strerror(err);
  if (path.empty()) return absl::InternalError(absl::StrCat(what, ": ", reason));
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", reason));
}

}  // namespace cohort::base
