#ifndef COHORT_CLIENT_TRAIN_CLIENT_TASK_H_
#define COHORT_CLIENT_TRAIN_CLIENT_TASK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "client/train/local_trainer.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::client {

// The steps of a device's round that the agent and the simulator share, so
// both run the same client code.

// Checks downloaded model bytes against the assignment's reference (size and
// SHA-256) before parsing them, and returns the fp32 weights to train from:
// an int8 artifact is dequantized. DATA_LOSS on any mismatch, parse failure
// or malformed int8 tensor.
absl::StatusOr<cohort::v1::Weights> VerifyModelBytes(
    const cohort::v1::ModelRef& ref, const std::string& bytes);

// Wraps a local update as the Report for `round_id`, with its field
// evaluation when it has one, its delta prepared by model::PrepareUpdate
// (TaskAssignment.clip_norm, 0: no bound, and .statistics_clip_norm: batch
// norm statistics clipped apart, in update units) and Report.clipped saying
// whether clipping changed it. Secure rounds send the same prepared delta.
cohort::v1::Report MakeReport(int64_t round_id, double clip_norm,
                              double statistics_clip_norm,
                              LocalUpdate update);

// The field evaluation a device sends of release `release` (0: unsigned),
// version `version`.
cohort::v1::FieldEvaluation MakeFieldEvaluation(int64_t release,
                                                int64_t version,
                                                const LocalEvaluation& e);

// Seed of a device's local training in a round: distinct per (device, round),
// and the same on every run.
uint64_t TrainingSeed(uint64_t device_key, int64_t round_id);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_CLIENT_TASK_H_
