#ifndef COHORT_COMMON_MODEL_PERSONAL_LAYERS_H_
#define COHORT_COMMON_MODEL_PERSONAL_LAYERS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/model.pb.h"

namespace cohort::model {

// FedPer's split of a model into shared and personal layers (Arivazhagan et
// al. 2019, "Federated Learning with Personalization Layers";
// TrainingPlan.personal_layers). An entry names a layer, matching every
// tensor "<entry>.<anything>" ("fc2" matches "fc2.weight" and "fc2.bias"),
// or one tensor by its full name. The coordinator aggregates Shared() only;
// a device keeps Personal() and never uploads it.
//
// A plain value, cheap to copy; thread-compatible.
class PersonalLayers {
 public:
  // No personal layers: every tensor is shared (FedAvg).
  PersonalLayers() = default;
  explicit PersonalLayers(std::vector<std::string> entries)
      : entries_(std::move(entries)) {}

  bool empty() const { return entries_.empty(); }
  const std::vector<std::string>& entries() const { return entries_; }

  bool IsPersonal(absl::string_view tensor_name) const;

  // INVALID_ARGUMENT naming the entry when one is empty or repeated, or
  // names no tensor of `model`, or when every tensor of `model` would be
  // personal (nothing left to federate).
  absl::Status Validate(const cohort::v1::Weights& model) const;

  // The tensors of `weights` that are shared (resp. personal), in order.
  cohort::v1::Weights Shared(const cohort::v1::Weights& weights) const;
  cohort::v1::Weights Personal(const cohort::v1::Weights& weights) const;

 private:
  std::vector<std::string> entries_;
};

// The plan's personal layers (TrainingPlan.personal_layers), as the
// coordinator, the agent and the simulator read them.
PersonalLayers PersonalLayersOf(const cohort::v1::TrainingPlan& plan);

// `base` with each tensor of `part` in place of base's tensor of the same
// name; order and the other tensors are base's. INVALID_ARGUMENT if a
// tensor of `part` is not in `base`, appears twice, or differs from it in
// shape or dtype (for example personal layers kept from another
// architecture).
absl::StatusOr<cohort::v1::Weights> Overlay(const cohort::v1::Weights& base,
                                            const cohort::v1::Weights& part);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_PERSONAL_LAYERS_H_
