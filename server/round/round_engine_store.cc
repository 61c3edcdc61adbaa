#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"
#include "glog/logging.h"
#include "server/round/round_engine.h"
#include "server/store/store_util.h"

// RoundEngine's durable side: loading stored versions, reconciling after a
// failed commit, and flushing device counters. Runs on the driver thread
// (Start, RunOnce). Committing a version is RoundCommitter's.

namespace cohort::server {

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundEngine::ParseRecord(
    const ModelVersionRecord& record) const {
  if (record.architecture != task_model_->architecture()) {
    return absl::FailedPreconditionError(
        absl::StrCat("task '", options_.task,
                     "' was created with architecture '", record.architecture,
                     "', config says '", task_model_->architecture(), "'"));
  }
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(record.weights)) {
    return absl::DataLossError(absl::StrCat("stored weights of version ",
                                            record.version, " do not parse"));
  }
  // Stored bytes are untrusted: they must have exactly the architecture's
  // layout (names, shapes, sizes) and hold only finite values.
  COHORT_ASSIGN_OR_RETURN(auto reference, task_model_->InitialWeights());
  absl::Status layout = model::ValidateDelta(reference, weights);
  if (!layout.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored weights of version ", record.version,
                     " are corrupt: ", layout.message()));
  }
  return Publish(record.version, record.round_id, record.architecture,
                 std::move(weights), record.metrics, options_.int8_artifacts);
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundEngine::LoadRecord(
    const ModelVersionRecord& record) {
  COHORT_ASSIGN_OR_RETURN(auto model, ParseRecord(record));
  // A crash between storing a version and releasing it is finished here.
  return committer_.Released(
      std::move(model), record.parent,
      absl::StrCat("version ", record.version, " released on resuming"));
}

absl::StatusOr<std::shared_ptr<const PublishedModel>>
RoundEngine::LoadStoredHead(const ModelVersionRecord& record) {
  COHORT_ASSIGN_OR_RETURN(auto model, LoadRecord(record));
  if (absl::Status s = committer_.RestoreOptimizer(record, model->weights);
      !s.ok()) {
    LOG(ERROR) << s << "; the server optimizer starts afresh";
  }
  if (options_.privacy.enabled) {
    // Keeps the last count on error: the next commit reads the store again.
    if (absl::Status s = committer_.LoadPrivacyRounds(); !s.ok()) {
      LOG(ERROR) << "cannot re-read the privacy rounds spent: " << s;
    }
  }
  return model;
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
  auto model = LoadStoredHead(**current);
  if (!model.ok() && (IsStoreAway(model.status()) ||
                      model.status().code() == absl::StatusCode::kAborted)) {
    // Releasing it needs the store, which is away or slow (the next failed
    // commit reconciles again), or a lease this coordinator no longer holds
    // (it is stopping; the new leader releases it).
    LOG(ERROR) << "cannot adopt version " << (*current)->version
               << " yet: " << model.status();
    return;
  }
  // The store is the source of truth; an unreadable current version is a
  // broken invariant that no round can recover from.
  CHECK(model.ok()) << "store holds version " << (*current)->version
                    << " that cannot be loaded: " << model.status();
  LOG(WARNING) << "store is at version " << (*model)->version
               << " after a failed commit; adopting it";
  absl::MutexLock lock(&mu_);
  previous_ = model_;
  model_ = *model;
  clip_norm_ = committer_.clip_norm();
  dp_rounds_ = committer_.privacy_rounds();
  // After the bound: a new buffer opens with the head's.
  ForgetInFlightLocked();
}

absl::StatusOr<RollbackOutcome> RoundEngine::ExecuteRollback(
    const PendingRollback& request) {
  COHORT_ASSIGN_OR_RETURN(
      ModelVersionRecord record,
      store_->GetVersion(options_.task, request.to_version));
  COHORT_ASSIGN_OR_RETURN(auto source, ParseRecord(record));
  std::shared_ptr<const PublishedModel> head;
  {
    absl::MutexLock lock(&mu_);
    head = model_;
  }
  auto model = committer_.RollBack(*source, head->version, request.reason,
                                   request.actor, request.kind);
  if (!model.ok()) {
    ReconcileWithStore();  // the version may have landed after all
    return model.status();
  }
  LOG(WARNING) << ReleaseKindName(request.kind) << ": version "
               << request.to_version << " as "
               << "version " << (*model)->version << ", release "
               << (*model)->release << " (" << request.actor << ": "
               << request.reason << ")";
  absl::MutexLock lock(&mu_);
  previous_ = model_;
  model_ = *model;
  ForgetInFlightLocked();
  return RollbackOutcome{(*model)->version, (*model)->release};
}

void RoundEngine::ForgetInFlightLocked() {
  if (ctx_ == nullptr || ctx_->in_flight == nullptr) return;
  ctx_->in_flight->Forget(model_->version);
  // The open buffer builds on the old version: its updates are dropped and
  // a new buffer opens on model_. A buffer aggregating or committing now
  // fails its commit instead (its parent is no longer current).
  if (state_->phase() != RoundPhase::kBuffering) return;
  for (auto& [device, channel] : ctx_->ready_channels) {
    cohort::v1::ServerMessage m;
    m.mutable_ack()->set_round_id(ctx_->round_id);
    m.mutable_ack()->set_accepted(false);
    m.mutable_ack()->set_message(absl::StrCat(
        "version ", model_->version, " replaced the one this update built "
        "on; update not used"));
    channel->Send(std::move(m));
  }
  LOG(WARNING) << "buffer " << ctx_->round_id << " dropped with "
               << ctx_->reported.size() << " updates: version "
               << model_->version << " replaced its base";
  OpenRoundLocked(clock_->Now());
}

void RoundEngine::RunPendingRollbacks() {
  std::deque<std::shared_ptr<PendingRollback>> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(rollbacks_);
  }
  for (const auto& request : pending) {
    request->result = ExecuteRollback(*request);
    request->done.Notify();
  }
}

RoundSummary RoundEngine::SummaryOf(const RoundContext& ctx) const {
  RoundSummary s;
  s.round_id = ctx.round_id;
  s.assigned = static_cast<int64_t>(ctx.assigned.size());
  s.drops = ctx.drops;
  s.dropped = ctx.drops.lost();
  s.clip_norm = ctx.clip_norm;
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
