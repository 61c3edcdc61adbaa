#include "client/train/personalization.h"

#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::client {

model::PersonalLayers PersonalLayersOf(const cohort::v1::TrainingPlan& plan) {
  return model::PersonalLayers(
      {plan.personal_layers().begin(), plan.personal_layers().end()});
}

absl::StatusOr<cohort::v1::Weights> PersonalizedModel(
    cohort::v1::Weights global, const cohort::v1::Weights& kept,
    const model::PersonalLayers& personal) {
  if (personal.empty() || kept.tensors_size() == 0) return global;
  return model::Overlay(global, personal.Personal(kept));
}

absl::StatusOr<cohort::v1::Weights> KeepPersonal(
    const cohort::v1::Weights& start, const model::PersonalLayers& personal,
    LocalUpdate* update) {
  COHORT_ASSIGN_OR_RETURN(
      cohort::v1::Weights trained,
      model::Add(personal.Personal(start), personal.Personal(update->delta)));
  update->delta = personal.Shared(update->delta);
  return trained;
}

}  // namespace cohort::client
