#include "common/ml/torch_guard.h"

#include <c10/util/Exception.h>

#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cohort::ml::internal {

absl::Status GuardTorch(const std::function<absl::Status()>& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what()));
  }
}

std::string FirstReasonLine(const std::string& text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) return std::string(line);
  }
  return "no reason given";
}

std::string CurrentExceptionReason() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return FirstReasonLine(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return FirstReasonLine(e.what());
  }
}

}  // namespace cohort::ml::internal
