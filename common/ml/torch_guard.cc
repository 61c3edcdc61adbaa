#include "common/ml/torch_guard.h"

#include <c10/util/Exception.h>

#include <exception>

#include "absl/strings/str_cat.h"

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

}  // namespace cohort::ml::internal
