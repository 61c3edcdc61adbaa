#ifndef COHORT_COMMON_ML_TESTING_ONNX_CHECKER_H_
#define COHORT_COMMON_ML_TESTING_ONNX_CHECKER_H_

// Test support: the ONNX project's own C++ checker (libonnx), with shape
// inference, on a file, as a runtime's loader checks it. The checker
// reports by exception; this adapter turns that into a Status.

#include <string>

#include "absl/status/status.h"

namespace cohort::ml::testing {

// OK if the file parses as a ModelProto and passes onnx::checker and shape
// inference; INVALID_ARGUMENT with the checker's reason otherwise.
absl::Status CheckOnnxFile(const std::string& path);

}  // namespace cohort::ml::testing

#endif  // COHORT_COMMON_ML_TESTING_ONNX_CHECKER_H_
