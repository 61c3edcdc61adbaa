#ifndef COHORT_CLIENT_TRAIN_PERSONALIZATION_H_
#define COHORT_CLIENT_TRAIN_PERSONALIZATION_H_

#include "absl/status/statusor.h"
#include "client/train/trainer.h"
#include "cohort/v1/model.pb.h"
#include "common/model/personal_layers.h"

namespace cohort::client {

// FedPer on the device (TrainingPlan.personal_layers; Arivazhagan et al.
// 2019): the agent and the simulator share these steps, so both keep and
// use personal layers the same way.

// The model the device trains from and serves: `global` with the personal
// tensors the device kept (`kept`; empty on its first round) in place of
// the global model's. Kept tensors that `personal` no longer names are
// ignored. INVALID_ARGUMENT unless the kept layers are exactly the global
// model's personal tensors (names, order, shapes, FLOAT32 payloads of the
// right size, finite values): the caller drops what it kept and starts
// from `global`.
// Without personal layers, or with none kept, `global` itself (no copy).
absl::StatusOr<cohort::v1::Weights> PersonalizedModel(
    cohort::v1::Weights global, const cohort::v1::Weights& kept,
    const model::PersonalLayers& personal);

// After training from `start`: leaves update->delta with the shared tensors
// only, which is all the report carries, and returns the personal tensors
// as trained (start's plus the update's delta), for the device to keep.
// INVALID_ARGUMENT if `start` and the delta differ in layout or the trained
// layers are not finite (training diverged): nothing is to be kept, and
// the caller forgets what it kept before.
absl::StatusOr<cohort::v1::Weights> KeepPersonal(
    const cohort::v1::Weights& start, const model::PersonalLayers& personal,
    LocalUpdate* update);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_PERSONALIZATION_H_
