#include "client/train/personalization.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::client {

absl::StatusOr<cohort::v1::Weights> PersonalizedModel(
    cohort::v1::Weights global, const cohort::v1::Weights& kept,
    const model::PersonalLayers& personal) {
  if (personal.empty() || kept.tensors_size() == 0) return global;
  const cohort::v1::Weights mine = personal.Personal(kept);
  if (absl::Status s = model::ValidateDelta(personal.Personal(global), mine);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the kept personal layers do not fit: ", s.message()));
  }
  return model::Overlay(global, mine);
}

absl::StatusOr<cohort::v1::Weights> KeepPersonal(
    const cohort::v1::Weights& start, const model::PersonalLayers& personal,
    LocalUpdate* update) {
  const cohort::v1::Weights delta = personal.Personal(update->delta);
  update->delta = personal.Shared(update->delta);
  const cohort::v1::Weights from = personal.Personal(start);
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights trained, model::Add(from, delta));
  // Diverged training must not be kept: every later round would start
  // from it.
  if (absl::Status s = model::ValidateDelta(from, trained); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the trained personal layers are unusable: ", s.message()));
  }
  return trained;
}

}  // namespace cohort::client
