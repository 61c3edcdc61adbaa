#ifndef COHORT_COMMON_MODEL_WEIGHTS_UTIL_H_
#define COHORT_COMMON_MODEL_WEIGHTS_UTIL_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::model {

// Checks that `delta` is a valid update for `model`: the same tensor names in
// the same order, identical shapes, DTYPE_FLOAT32 with exactly 4 bytes per
// element, and every value finite. INVALID_ARGUMENT naming the first problem.
absl::Status ValidateDelta(const cohort::v1::Weights& model,
                           const cohort::v1::Weights& delta);

// More elements than any tensor a message can carry (protobuf's 2 GiB), and
// few enough that a count times 8 bytes, or the product of any of a shape's
// dimensions, stays far inside int64.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

// Element count of a tensor's shape; -1 if a dimension is negative or the
// product of its non-zero dimensions exceeds kMaxTensorElements (even when
// another dimension is 0, so code that multiplies some of the dimensions
// never overflows).
int64_t ElementCount(const cohort::v1::Tensor& tensor);

// Views a FLOAT32 tensor's payload as floats. The caller has validated it.
std::span<const float> FloatView(const cohort::v1::Tensor& tensor);

// Whether every value is finite (neither NaN nor infinite).
bool AllFinite(std::span<const float> values);

// sum_i values[i]^2 in double precision, in a fixed order (eight interleaved
// partial sums, then the tail), so the same values always give the same
// bits. Values must be finite.
double SumOfSquares(std::span<const float> values);

// Copies `values` into a FLOAT32 tensor payload.
void SetFloatData(std::span<const float> values, cohort::v1::Tensor* tensor);

// a - b, tensor by tensor, for FLOAT32 weights of the same layout (checked).
// INVALID_ARGUMENT on a layout mismatch.
absl::StatusOr<cohort::v1::Weights> Subtract(const cohort::v1::Weights& a,
                                             const cohort::v1::Weights& b);

// a + b, as Subtract (a delta applied to the weights it was taken from).
absl::StatusOr<cohort::v1::Weights> Add(const cohort::v1::Weights& a,
                                        const cohort::v1::Weights& b);

// The L2 norm of all of `weights`' FLOAT32 values together, in double
// precision. The caller has validated them (finite, as ValidateDelta).
double L2Norm(const cohort::v1::Weights& weights);

// Update clipping: scales `weights` by clip_norm / L2Norm(weights) when the
// norm exceeds clip_norm (> 0), so its norm becomes at most clip_norm (up
// to float rounding). Returns whether it scaled. Values must be finite:
// clipping must never turn a non-finite update into a valid one, so callers
// refuse those first (ValidateDelta).
bool ClipToNorm(cohort::v1::Weights* weights, double clip_norm);

// Multiplies a FLOAT32 tensor's values by `factor`, in double precision.
void ScaleTensor(cohort::v1::Tensor* tensor, double factor);

// Deterministic serialization of a Weights message (what is hashed, stored
// and streamed to devices).
std::string SerializeWeights(const cohort::v1::Weights& weights);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_WEIGHTS_UTIL_H_
