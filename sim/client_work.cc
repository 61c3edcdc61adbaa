#include "sim/client_work.h"

#include <vector>

#include "client/train/client_task.h"
#include "client/train/personalization.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"
#include "sim/device_model.h"
#include "sim/random_streams.h"

namespace cohort::sim {
namespace {

// A poisoning client's update: its delta times `scale`.
void Poison(double scale, cohort::v1::Weights* delta) {
  for (auto& t : *delta->mutable_tensors()) {
    std::vector<float> v(model::FloatView(t).begin(), model::FloatView(t).end());
    for (float& x : v) x *= static_cast<float>(scale);
    model::SetFloatData(v, &t);
  }
}

}  // namespace

absl::StatusOr<cohort::v1::Report> ClientWork::Train(
    const cohort::v1::SimTrainingBatch& job, int64_t id,
    client::LocalTrainer& trainer) const {
  COHORT_ASSIGN_OR_RETURN(std::string bytes, fetch_(job.ref()));
  COHORT_ASSIGN_OR_RETURN(auto global, client::VerifyModelBytes(job.ref(), bytes));
  // FedPer: the client's own personal layers, as an agent keeps them.
  const model::PersonalLayers& personal = personalization_->personal();
  COHORT_ASSIGN_OR_RETURN(
      const cohort::v1::Weights start,
      client::PersonalizedModel(std::move(global), personalization_->KeptOf(id),
                                personal));
  data::ImageDataset local = personalization_->TrainDataOf(id);
  // As agents do: the architecture the assignment names (an imported
  // model's chain travels this way).
  const std::string& arch = job.ref().architecture();
  std::optional<cohort::v1::FieldEvaluation> field;
  if (job.evaluate()) {
    COHORT_ASSIGN_OR_RETURN(client::LocalEvaluation e,
                            trainer.EvaluateOn(local, arch, start));
    field = client::MakeFieldEvaluation(job.release(), job.ref().version(), e);
  }
  COHORT_ASSIGN_OR_RETURN(
      client::LocalUpdate update,
      trainer.TrainOn(local, arch, start, job.plan(),
                      client::TrainingSeed(
                          MixKey(seed_, kTrainStream, static_cast<uint64_t>(id)),
                          job.round_id())));
  update.field_evaluation = std::move(field);
  // As an agent does: diverged personal layers are forgotten, not kept.
  auto kept = client::KeepPersonal(start, personal, &update);
  personalization_->Keep(id, kept.ok() ? *std::move(kept) : cohort::v1::Weights());
  // A poisoning client does not clip its own update; the coordinator does.
  double clip_norm = job.clip_norm();
  if (job.poisoned_round() && Poisons(id)) {
    clip_norm = 0.0;
    Poison(poison_.scale, &update.delta);
  }
  return client::MakeReport(job.round_id(), clip_norm, job.statistics_clip_norm(),
                            std::move(update));
}

bool ClientWork::Poisons(int64_t id) const {
  const uint64_t key = MixKey(seed_, kPoisonStream, static_cast<uint64_t>(id));
  return static_cast<double>(key >> 11) * 0x1.0p-53 < poison_.fraction;
}

}  // namespace cohort::sim
