#ifndef COHORT_COMMON_ML_OP_PROFILE_H_
#define COHORT_COMMON_ML_OP_PROFILE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::ml {

// Time spent in one LibTorch operator (e.g. "aten::conv2d",
// "quantized::linear") while profiling.
struct OperatorTime {
  std::string name;
  int64_t calls = 0;
  // Time inside the operator minus time in operators it called, in ms.
  double self_ms = 0.0;
  // Time inside the operator, including nested operators, in ms.
  double total_ms = 0.0;
};

// Runs `work` (any Model / Int8Model calls) under LibTorch's CPU profiler on
// this thread and returns the operators it ran, most self time first.
// INTERNAL if the profiler cannot start (e.g. one is already running) or
// LibTorch fails.
absl::StatusOr<std::vector<OperatorTime>> ProfileOperators(
    const std::function<absl::Status()>& work);

}  // namespace cohort::ml

#endif  // COHORT_COMMON_ML_OP_PROFILE_H_
