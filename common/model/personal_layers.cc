#include "common/model/personal_layers.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cohort::model {
namespace {

bool Matches(absl::string_view entry, absl::string_view tensor_name) {
  return tensor_name == entry ||
         (absl::StartsWith(tensor_name, entry) &&
          tensor_name.size() > entry.size() &&
          tensor_name[entry.size()] == '.');
}

bool SameLayout(const cohort::v1::Tensor& a, const cohort::v1::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape_size() == b.shape_size() &&
         std::equal(a.shape().begin(), a.shape().end(), b.shape().begin());
}

}  // namespace

bool PersonalLayers::IsPersonal(absl::string_view tensor_name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const std::string& e) { return Matches(e, tensor_name); });
}

absl::Status PersonalLayers::Validate(const cohort::v1::Weights& model) const {
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& e : entries_) {
    if (e.empty()) {
      return absl::InvalidArgumentError("a personal layer name is empty");
    }
    if (!seen.insert(e).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("personal layer '", e, "' is listed twice"));
    }
    const bool found =
        std::any_of(model.tensors().begin(), model.tensors().end(),
                    [&](const cohort::v1::Tensor& t) { return Matches(e, t.name()); });
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          "personal layer '", e, "' names no tensor of the model"));
    }
  }
  if (!entries_.empty() && Shared(model).tensors_size() == 0) {
    return absl::InvalidArgumentError(
        "every layer is personal: nothing is left to federate");
  }
  return absl::OkStatus();
}

cohort::v1::Weights PersonalLayers::Shared(
    const cohort::v1::Weights& weights) const {
  if (entries_.empty()) return weights;
  cohort::v1::Weights out;
  for (const auto& t : weights.tensors()) {
    if (!IsPersonal(t.name())) *out.add_tensors() = t;
  }
  return out;
}

cohort::v1::Weights PersonalLayers::Personal(
    const cohort::v1::Weights& weights) const {
  cohort::v1::Weights out;
  for (const auto& t : weights.tensors()) {
    if (IsPersonal(t.name())) *out.add_tensors() = t;
  }
  return out;
}

PersonalLayers PersonalLayersOf(const cohort::v1::TrainingPlan& plan) {
  return PersonalLayers(
      {plan.personal_layers().begin(), plan.personal_layers().end()});
}

absl::StatusOr<cohort::v1::Weights> Overlay(const cohort::v1::Weights& base,
                                            const cohort::v1::Weights& part) {
  absl::flat_hash_map<absl::string_view, int> index;
  for (int i = 0; i < base.tensors_size(); ++i) {
    index.emplace(base.tensors(i).name(), i);
  }
  cohort::v1::Weights out = base;
  absl::flat_hash_set<absl::string_view> replaced;
  for (const auto& t : part.tensors()) {
    auto it = index.find(t.name());
    if (it == index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "' is not in the model"));
    }
    if (!replaced.insert(t.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "' appears twice"));
    }
    if (!SameLayout(t, base.tensors(it->second))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", t.name(), "' differs from the model's in shape or type"));
    }
    *out.mutable_tensors(it->second) = t;
  }
  return out;
}

}  // namespace cohort::model
