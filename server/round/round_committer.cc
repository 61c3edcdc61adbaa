#include "server/round/round_committer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/kill_point.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"
#include "glog/logging.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

// The most noised rounds any stored version counts (0 if none does, or a
// count is not a finite non-negative number).
int64_t MostPrivacyRounds(const std::vector<ModelVersionRecord>& versions) {
  int64_t most = 0;
  for (const ModelVersionRecord& v : versions) {
    auto it = v.metrics.find(kPrivacyRoundsMetric);
    if (it == v.metrics.end() || !(it->second >= 0 && it->second < 1e15)) {
      continue;
    }
    most = std::max(most, static_cast<int64_t>(it->second));
  }
  return most;
}

// FAILED_PRECONDITION unless every stored version was made under
// differential privacy and the most rounds any counts cost, under
// `options`, at least the epsilon that version recorded: a task trained in
// the clear has nothing to account, and settings that price the rounds
// already spent lower (more noise, a larger population) would under-report
// them. Settings that price them higher are accepted: every round is then
// charged at the new, larger price.
absl::Status CheckPrivacyHistory(const std::vector<ModelVersionRecord>& versions,
                                 const PrivacyOptions& options) {
  const ModelVersionRecord* most = nullptr;
  for (const ModelVersionRecord& v : versions) {
    auto it = v.metrics.find(kPrivacyRoundsMetric);
    if (it == v.metrics.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "version ", v.version, " was committed without differential "
          "privacy, which cannot be turned on for a task that has released "
          "models in the clear; start a new task"));
    }
    if (most == nullptr ||
        it->second > most->metrics.at(kPrivacyRoundsMetric)) {
      most = &v;
    }
  }
  if (most == nullptr) return absl::OkStatus();
  const double rounds = most->metrics.at(kPrivacyRoundsMetric);
  auto recorded = most->metrics.find(kEpsilonMetric);
  const double now = SpentEpsilon(options, static_cast<int64_t>(rounds));
  if (recorded == most->metrics.end() ||
      !(now >= recorded->second * (1 - 1e-9))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", most->version, " recorded epsilon ",
        recorded == most->metrics.end() ? -1.0 : recorded->second, " after ",
        rounds, " noised rounds, the current differential privacy settings "
        "make it ", now, ", which would under-report them: restore the "
        "settings the task was trained with, or start a new task"));
  }
  return absl::OkStatus();
}

// Whether `state`'s moments are laid out like tensors of `weights` other
// than `shared`: stored before plan.personal_layers changed (any other
// mismatch is damage, which Restore reports).
bool SplitDiffers(const cohort::v1::ServerOptimizerState& state,
                  const cohort::v1::Weights& weights,
                  const cohort::v1::Weights& shared) {
  const auto& moment = state.first_moment().tensors();
  if (moment.empty()) return false;
  std::map<std::string, const cohort::v1::Tensor*> model;
  for (const auto& t : weights.tensors()) model[t.name()] = &t;
  bool same = moment.size() == shared.tensors_size();
  for (int i = 0; i < moment.size(); ++i) {
    auto it = model.find(moment[i].name());
    if (it == model.end() ||
        !std::equal(moment[i].shape().begin(), moment[i].shape().end(),
                    it->second->shape().begin(), it->second->shape().end())) {
      return false;
    }
    same = same && moment[i].name() == shared.tensors(i).name();
  }
  return !same;
}

}  // namespace

RoundCommitter::RoundCommitter(const RoundOptions& options, Store* store,
                               TaskModel* task_model, base::Clock* clock,
                               ReleaseRegistry* registry)
    : task_(options.task),
      int8_artifacts_(options.int8_artifacts),
      store_(store),
      task_model_(task_model),
      clock_(clock),
      optimizer_(options.server_optimizer),
      clip_(options.clipping),
      privacy_(options.privacy),
      personal_(options.personal),
      registry_(registry),
      gate_max_accuracy_drop_(options.gate_max_accuracy_drop) {}

absl::StatusOr<std::shared_ptr<const PublishedModel>>
RoundCommitter::CommitInitial() {
  COHORT_ASSIGN_OR_RETURN(auto weights, task_model_->InitialWeights());
  COHORT_ASSIGN_OR_RETURN(auto metrics, task_model_->Evaluate(weights));
  AddPrivacyMetrics(metrics, 0);
  COHORT_ASSIGN_OR_RETURN(
      auto model, Publish(1, 0, task_model_->architecture(), std::move(weights),
                          std::move(metrics), int8_artifacts_));
  COHORT_RETURN_IF_ERROR(Persist(*model, /*parent=*/0));
  return Released(std::move(model), /*parent=*/0, "initial model");
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::Commit(
    const RoundResult& result) {
  COHORT_ASSIGN_OR_RETURN(ServerOptimizer::StepResult step,
                          ApplyOptimizer(result));
  if (clip_.adaptive()) {
    step.state.set_clip_norm(clip_.Next(result.clipped_fraction()));
  }
  COHORT_ASSIGN_OR_RETURN(auto model,
                          BuildVersion(result, std::move(step.weights)));
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> hold,
                          GateVerdict(*model, *result.parent));
  if (hold.has_value()) {
    auto held = Hold(*model, result.parent->version, *hold);
    // A held version was computed from the devices' data all the same.
    if (held.ok() && privacy_.enabled) ++dp_rounds_;
    return held;
  }
  COHORT_RETURN_IF_ERROR(
      Persist(*model, result.parent->version, &step.state));
  if (privacy_.enabled) ++dp_rounds_;
  // The state advances only once the version is durable, with it: after a
  // failed write the optimizer is as it was, so a retry computes the same
  // step, and a restart resumes from the stored state.
  // Next() keeps the bound in range, so Set cannot fail here.
  clip_.Set(step.state.clip_norm()).IgnoreError();
  optimizer_.Accept(std::move(step));
  return Released(std::move(model), result.parent->version,
                  absl::StrCat("round ", result.round_id, " committed"));
}

absl::StatusOr<std::optional<std::string>> RoundCommitter::GateVerdict(
    const PublishedModel& model, const PublishedModel& parent) {
  if (registry_ != nullptr) {
    COHORT_ASSIGN_OR_RETURN(std::optional<Release> current,
                            registry_->Current());
    if (current.has_value() &&
        current->record.kind == ReleaseRecord::Kind::kPin) {
      return std::optional<std::string>(absl::StrCat(
          "release ", current->record.release, " is pinned by ",
          current->record.actor));
    }
  }
  if (!gate_max_accuracy_drop_.has_value()) return std::optional<std::string>();
  auto now = model.metrics.find(kGateMetric);
  auto before = parent.metrics.find(kGateMetric);
  if (now == model.metrics.end() || before == parent.metrics.end()) {
    return std::optional<std::string>();
  }
  const double drop = before->second - now->second;
  if (!(drop > *gate_max_accuracy_drop_)) return std::optional<std::string>();
  return std::optional<std::string>(absl::StrCat(
      kGateMetric, " ", now->second, " is ", drop, " below version ",
      parent.version, "'s ", before->second, " (gate allows ",
      *gate_max_accuracy_drop_, ")"));
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::Hold(
    const PublishedModel& model, int64_t parent, const std::string& reason) {
  auto held = std::make_shared<PublishedModel>(model);
  held->held = true;
  held->held_reason = reason;
  COHORT_RETURN_IF_ERROR(Persist(*held, parent));
  LOG(WARNING) << "version " << held->version << " held, not released: "
               << reason;
  return held;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::Released(
    std::shared_ptr<const PublishedModel> model, int64_t parent,
    const std::string& reason, ReleaseRecord::Kind kind,
    const std::string& actor) {
  if (registry_ == nullptr) return model;
  COHORT_ASSIGN_OR_RETURN(std::optional<Release> current, registry_->Current());
  if (!current.has_value() || current->record.version != model->version) {
    ReleaseRequest request;
    request.manifest = ManifestContent(*model, parent);
    // An export that fails costs its digest, never the release.
    auto exports = task_model_->Exports(model->weights);
    if (exports.ok()) {
      AddExportDigests(*exports, &request.manifest);
    } else {
      LOG(ERROR) << "version " << model->version
                 << ": released without export digests: " << exports.status();
    }
    request.kind = kind;
    request.reason = reason;
    request.actor = actor;
    COHORT_ASSIGN_OR_RETURN(current, registry_->Publish(std::move(request)));
  }
  return Attach(*model, *std::move(current));
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::Refreshed(
    std::shared_ptr<const PublishedModel> model) {
  if (registry_ == nullptr) return model;
  COHORT_ASSIGN_OR_RETURN(std::optional<Release> current, registry_->Current());
  if (!current.has_value() || current->record.version != model->version ||
      current->record.release == model->release) {
    return model;
  }
  return Attach(*model, *std::move(current));
}

std::shared_ptr<const PublishedModel> RoundCommitter::Attach(
    const PublishedModel& model, Release release) {
  auto released = std::make_shared<PublishedModel>(model);
  released->release = release.record.release;
  released->pinned = release.record.kind == ReleaseRecord::Kind::kPin;
  released->manifest = std::move(release.manifest);
  return released;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::RollBack(
    const PublishedModel& source, int64_t parent, const std::string& reason,
    const std::string& actor, ReleaseRecord::Kind kind) {
  std::map<std::string, double> metrics = source.metrics;
  metrics["rolled_back_from"] = static_cast<double>(source.version);
  COHORT_ASSIGN_OR_RETURN(int64_t version, NextVersion());
  // What the task has spent stays spent.
  AddPrivacyMetrics(metrics, dp_rounds_);
  COHORT_ASSIGN_OR_RETURN(
      auto model, Publish(version, /*round_id=*/0, source.architecture,
                          source.weights, std::move(metrics), int8_artifacts_));
  // The clip bound follows the update norms, not the weights: it stays.
  cohort::v1::ServerOptimizerState clip_only;
  if (clip_.adaptive()) clip_only.set_clip_norm(clip_.current());
  COHORT_RETURN_IF_ERROR(Persist(*model, parent, &clip_only));
  // Momentum belonged to the weights rolled away from.
  optimizer_.Reset();
  return Released(std::move(model), parent,
                  absl::StrCat(kind == ReleaseRecord::Kind::kRollback
                                   ? "rollback to"
                                   : ReleaseKindName(kind),
                               " version ", source.version, ": ", reason),
                  kind, actor);
}

absl::StatusOr<ServerOptimizer::StepResult> RoundCommitter::ApplyOptimizer(
    const RoundResult& result) const {
  const cohort::v1::Weights& parent = result.parent->weights;
  if (!personal_.empty()) {
    // FedPer: the rounds aggregated the shared tensors only.
    ServerOptimizer::StepResult step;
    COHORT_ASSIGN_OR_RETURN(step, StepShared(personal_.Shared(parent), result));
    COHORT_ASSIGN_OR_RETURN(step.weights, model::Overlay(parent, step.weights));
    return step;
  }
  return StepShared(parent, result);
}

absl::StatusOr<ServerOptimizer::StepResult> RoundCommitter::StepShared(
    const cohort::v1::Weights& shared, const RoundResult& result) const {
  COHORT_ASSIGN_OR_RETURN(ServerOptimizer::StepResult step,
                          optimizer_.Step(shared, result.mean_delta));
  // Never publish a model the next round could not train from.
  absl::Status finite = model::ValidateDelta(shared, step.weights);
  if (!finite.ok()) {
    return absl::InternalError(
        absl::StrCat("aggregate is unusable: ", finite.message()));
  }
  return step;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>>
RoundCommitter::BuildVersion(const RoundResult& result,
                             cohort::v1::Weights weights) {
  COHORT_ASSIGN_OR_RETURN(auto metrics, task_model_->Evaluate(weights));
  base::KillPoint("server.evaluated");
  // NaN under differential privacy: the un-noised loss is not released.
  if (std::isfinite(result.mean_loss)) metrics["train_loss"] = result.mean_loss;
  metrics["participants"] = static_cast<double>(result.participants);
  const PublishedModel& parent = *result.parent;
  // Also re-reads dp_rounds_ when a failed write left the store in doubt.
  COHORT_ASSIGN_OR_RETURN(int64_t version, NextVersion());
  AddPrivacyMetrics(metrics, dp_rounds_ + 1);
  return Publish(version, result.round_id, parent.architecture,
                 std::move(weights), std::move(metrics), int8_artifacts_);
}

absl::Status RoundCommitter::RestoreOptimizer(
    const ModelVersionRecord& record, const cohort::v1::Weights& weights) {
  cohort::v1::ServerOptimizerState state;
  if (!state.ParseFromString(record.optimizer_state)) {
    optimizer_.Reset();
    clip_.Reset();
    return absl::DataLossError(
        absl::StrCat("the server optimizer state stored with version ",
                     record.version, " does not parse"));
  }
  const absl::Status clip = clip_.Set(state.clip_norm());
  const cohort::v1::Weights shared = personal_.Shared(weights);
  if (SplitDiffers(state, weights, shared)) {
    // plan.personal_layers changed: the moments covered other tensors.
    LOG(WARNING) << "the server optimizer state stored with version "
                 << record.version << " covers other tensors than "
                 << "plan.personal_layers now shares; it starts over";
    state.clear_first_moment();
    state.clear_second_moment();
  }
  absl::Status s = optimizer_.Restore(state, shared);
  if (s.ok() && !clip.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the adaptive clip bound stored with version ", record.version, ": ",
        clip.message(), "; it starts over"));
  }
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("version ", record.version, ": ",
                                            s.message()));
  }
  return absl::OkStatus();
}

absl::Status RoundCommitter::Persist(
    const PublishedModel& model, int64_t parent,
    const cohort::v1::ServerOptimizerState* state) {
  ModelVersionRecord record = MakeRecord(model, parent);
  if (state != nullptr && (state->first_moment().tensors_size() > 0 ||
                           state->second_moment().tensors_size() > 0 ||
                           state->clip_norm() != 0)) {
    record.optimizer_state = state->SerializeAsString();
  }
  absl::Status s = store_->CommitVersion(record);
  if (s.ok()) base::KillPoint("server.version_stored");
  // In doubt or refused, the store is asked again before the next number.
  highest_version_ = s.ok() ? model.version : 0;
  return s;
}

absl::StatusOr<int64_t> RoundCommitter::NextVersion() {
  if (highest_version_ == 0) {
    COHORT_ASSIGN_OR_RETURN(std::vector<ModelVersionRecord> versions,
                            store_->ListVersions(task_));
    for (const ModelVersionRecord& v : versions) {
      highest_version_ = std::max(highest_version_, v.version);
    }
    dp_rounds_ = MostPrivacyRounds(versions);
  }
  return highest_version_ + 1;
}

absl::Status RoundCommitter::LoadPrivacyRounds() {
  highest_version_ = 0;
  COHORT_RETURN_IF_ERROR(NextVersion().status());
  if (!privacy_.enabled) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(std::vector<ModelVersionRecord> versions,
                          store_->ListVersions(task_));
  return CheckPrivacyHistory(versions, privacy_);
}

void RoundCommitter::AddPrivacyMetrics(std::map<std::string, double>& metrics,
                                       int64_t rounds) const {
  if (!privacy_.enabled) return;
  metrics[kPrivacyRoundsMetric] = static_cast<double>(rounds);
  metrics[kEpsilonMetric] = SpentEpsilon(privacy_, rounds);
}

ModelVersionRecord RoundCommitter::MakeRecord(const PublishedModel& model,
                                              int64_t parent) const {
  ModelVersionRecord record;
  record.task = task_;
  record.version = model.version;
  record.parent = parent;
  record.round_id = model.round_id;
  record.architecture = model.architecture;
  record.created_at_unix_ms = absl::ToUnixMillis(clock_->Now());
  record.metrics = model.metrics;
  record.weights = model::SerializeWeights(model.weights);
  record.held = model.held;
  return record;
}

}  // namespace cohort::server
