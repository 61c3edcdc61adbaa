#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"
#include "glog/logging.h"
#include "server/round/round_engine.h"

// RoundEngine's durable side: loading stored versions, committing a round,
// reconciling after a failed commit, and flushing device counters. Runs on
// the driver thread (Start, RunOnce).

namespace cohort::server {
namespace {

// What the round aggregated: from the secure sum, or from the plain reports
// (read before the aggregator is consumed).
void AddAggregate(const RoundContext& ctx, RoundSummary* s) {
  if (ctx.secure.has_value()) {
    const SecureResult& r = *ctx.secure;
    s->participants = r.participants;
    s->total_examples = r.examples;
    s->train_loss = r.mean_loss;
    if (r.participants > 0) {
      s->clipped_fraction = static_cast<double>(r.clipped) /
                            static_cast<double>(r.participants);
    }
    return;
  }
  s->participants = static_cast<int64_t>(ctx.reported.size());
  s->total_examples = ctx.aggregator->total_examples();
  s->train_loss = ctx.loss_sum / static_cast<double>(s->total_examples);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundEngine::LoadRecord(
    const ModelVersionRecord& record) {
  if (record.architecture != task_model_->architecture()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task '", options_.task, "' was created with architecture '",
        record.architecture, "', config says '", task_model_->architecture(),
        "'"));
  }
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(record.weights)) {
    return absl::DataLossError(absl::StrCat(
        "stored weights of version ", record.version, " do not parse"));
  }
  // Stored bytes are untrusted: they must have exactly the architecture's
  // layout (names, shapes, sizes) and hold only finite values.
  COHORT_ASSIGN_OR_RETURN(auto reference, task_model_->InitialWeights());
  absl::Status layout = model::ValidateDelta(reference, weights);
  if (!layout.ok()) {
    return absl::DataLossError(absl::StrCat("stored weights of version ",
                                            record.version, " are corrupt: ",
                                            layout.message()));
  }
  return Publish(record.version, record.round_id, record.architecture,
                 std::move(weights), record.metrics, options_.int8_artifacts);
}

void RoundEngine::ReconcileWithStore() {
  auto current = store_->GetCurrent(options_.task);
  if (!current.ok() || !current->has_value()) return;
  int64_t ours;
  {
    absl::MutexLock lock(&mu_);
    ours = model_->version;
  }
  if ((*current)->version == ours) return;
  auto model = LoadRecord(**current);
  // The store is the source of truth; an unreadable current version is a
  // broken invariant that no round can recover from.
  CHECK(model.ok()) << "store holds version " << (*current)->version
                    << " that cannot be loaded: " << model.status();
  LOG(WARNING) << "store is at version " << (*model)->version
               << " after a failed commit; adopting it";
  absl::MutexLock lock(&mu_);
  previous_ = model_;
  model_ = *model;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundEngine::Commit(
    RoundContext& ctx, RoundSummary* summary) {
  const bool secure = ctx.secure.has_value();
  *summary = SummaryOf(ctx);
  AddAggregate(ctx, summary);
  cohort::v1::Weights mean_delta;
  if (secure) {
    mean_delta = std::move(ctx.secure->mean_delta);
  } else {
    COHORT_ASSIGN_OR_RETURN(
        mean_delta, std::move(*ctx.aggregator).MeanDelta(ctx.model->weights));
  }
  COHORT_ASSIGN_OR_RETURN(auto step,
                          optimizer_.Step(ctx.model->weights, mean_delta));
  cohort::v1::Weights weights = std::move(step.weights);
  // Never publish a model the next round could not train from.
  absl::Status finite = model::ValidateDelta(ctx.model->weights, weights);
  if (!finite.ok()) {
    return absl::InternalError(
        absl::StrCat("aggregate is unusable: ", finite.message()));
  }
  COHORT_ASSIGN_OR_RETURN(auto metrics, task_model_->Evaluate(weights));
  metrics["train_loss"] = summary->train_loss;
  metrics["participants"] = static_cast<double>(summary->participants);
  COHORT_ASSIGN_OR_RETURN(
      auto model,
      Publish(ctx.model->version + 1, ctx.round_id, ctx.model->architecture,
              std::move(weights), std::move(metrics), options_.int8_artifacts));
  COHORT_RETURN_IF_ERROR(store_->CommitVersion(MakeRecord(ctx, *model)));
  optimizer_.Accept(std::move(step));
  summary->version = model->version;
  summary->metrics = model->metrics;
  summary->duration = clock_->Now() - ctx.started;
  return model;
}

ModelVersionRecord RoundEngine::MakeRecord(const RoundContext& ctx,
                                           const PublishedModel& model) const {
  ModelVersionRecord record;
  record.task = options_.task;
  record.version = model.version;
  record.parent = ctx.model->version;
  record.round_id = ctx.round_id;
  record.architecture = model.architecture;
  record.created_at_unix_ms = absl::ToUnixMillis(clock_->Now());
  record.metrics = model.metrics;
  record.weights = model::SerializeWeights(model.weights);
  return record;
}

RoundSummary RoundEngine::SummaryOf(const RoundContext& ctx) const {
  RoundSummary s;
  s.round_id = ctx.round_id;
  s.assigned = static_cast<int64_t>(ctx.assigned.size());
  s.drops = ctx.drops;
  s.dropped = ctx.drops.lost();
  s.duration = clock_->Now() - ctx.started;
  return s;
}

void RoundEngine::FlushDevices() {
  std::map<std::string, DeviceCounts> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(pending_devices_);
  }
  for (const auto& [id, c] : pending) {
    absl::Status s = store_->RecordDevice(id, c.last_seen_ms, c.check_ins,
                                          c.accepted, c.rejected);
    if (!s.ok()) LOG(WARNING) << "device record for " << id << ": " << s;
  }
}

}  // namespace cohort::server
