#ifndef COHORT_COMMON_ML_TORCH_GUARD_H_
#define COHORT_COMMON_ML_TORCH_GUARD_H_

// Internal to common/ml: the one place where LibTorch's exceptions become
// Status. Every public common/ml function that calls LibTorch runs it inside
// GuardTorch, so no c10::Error leaves the folder.

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace cohort::ml::internal {

// Runs `body`; a c10::Error or other std::exception it throws becomes
// INTERNAL "LibTorch: <what>".
absl::Status GuardTorch(const std::function<absl::Status()>& body);

// The first line of a LibTorch error message that says something (the
// TorchScript compiler's begin with an empty line); "no reason given" if
// none does.
std::string FirstReasonLine(const std::string& text);

// FirstReasonLine of the exception being handled (a c10::Error without its
// backtrace, or any std::exception). Call only inside a catch block.
std::string CurrentExceptionReason();

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_TORCH_GUARD_H_
