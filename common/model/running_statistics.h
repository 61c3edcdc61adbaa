#ifndef COHORT_COMMON_MODEL_RUNNING_STATISTICS_H_
#define COHORT_COMMON_MODEL_RUNNING_STATISTICS_H_

#include <cstdint>

#include "cohort/v1/model.pb.h"

namespace cohort::model {

// Batch norm's running statistics in an update (docs/DECISIONS.md, "Running
// statistics are clipped and encoded apart"). They are not gradients: a
// device's delta moves them to its data's activation statistics, and a
// global model is only usable at inference if they move all the way. So an
// update is clipped in two blocks, each to its own L2 bound:
//
//   trainable tensors   to clip_norm C (as every update);
//   statistics          to statistics_clip_norm S, in their own units.
//
// On the wire (plain reports and SecAgg+ inputs) the statistics travel in
// update units, multiplied by C / S, so that both blocks have the bound C
// and the whole update the bound sqrt(2) * C (EncodedUpdateBound), which is
// what SecAgg+'s grid and the DP noise are sized for. The server divides the
// aggregated statistics by C / S again before its optimizer step.

// The tensor is a running mean or variance (its name ends in
// ".running_mean" or ".running_var", PyTorch's buffer names).
bool IsRunningStatistic(const cohort::v1::Tensor& tensor);
bool IsRunningVariance(const cohort::v1::Tensor& tensor);

// Values in running statistics; 0 for a model without batch norm.
int64_t CountStatistics(const cohort::v1::Weights& weights);

// S when the task sets none, from the model the round trains (public, so
// the bound reveals nothing of the devices): 4 * ||statistics|| + 4 *
// sqrt(CountStatistics(model)). Statistics scale with the activations, and
// a device's delta takes them to its own data's, so the bound follows the
// model's own: a delta may replace them with values four times as large,
// plus an RMS change of 4 per value. 0 for a model without statistics.
double DefaultStatisticsClipNorm(const cohort::v1::Weights& model);

// The L2 bound of an update in update units: clip_norm, or sqrt(2) *
// clip_norm when `model` has running statistics.
double EncodedUpdateBound(double clip_norm, const cohort::v1::Weights& model);

// L2 norms of the trainable block and of the statistics block.
struct BlockNorms {
  double trainable = 0;
  double statistics = 0;
};
BlockNorms NormsOf(const cohort::v1::Weights& update);

// Multiplies every running statistic by `factor` (units: see above).
void ScaleStatistics(cohort::v1::Weights* update, double factor);

// Clips the trainable block and the statistics block each to L2 norm
// `bound` (> 0). Returns whether either was scaled. Values must be finite
// (callers validate first, as for model::ClipToNorm).
bool ClipEachBlock(cohort::v1::Weights* update, double bound);

// A device's delta as it leaves the device: statistics clipped to
// statistics_clip_norm and carried in update units, then each block
// clipped to clip_norm. statistics_clip_norm 0 (a coordinator before this
// rule, or a model without statistics): one block clipped to clip_norm.
// clip_norm 0: no bound (nothing changes). Returns whether it clipped.
bool PrepareUpdate(cohort::v1::Weights* delta, double clip_norm,
                   double statistics_clip_norm);

// Variances below 0 (aggregation rounding or DP noise) become 0: a batch
// norm divides by sqrt(var + eps).
void ClampVariances(cohort::v1::Weights* weights);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_RUNNING_STATISTICS_H_
