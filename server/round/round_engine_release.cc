#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/round/round_engine.h"

// RoundEngine's release policy beyond the commit itself: rounds the gate
// held, field monitoring and the automatic rollback it triggers, and an
// operator's pause.

namespace cohort::server {
namespace {

const char* OutcomeName(RoundSummary::Outcome outcome) {
  switch (outcome) {
    case RoundSummary::Outcome::kHeld:
      return "held";
    case RoundSummary::Outcome::kRolledBack:
      return "rolled_back";
    case RoundSummary::Outcome::kCommitted:
      break;
  }
  return "committed";
}

constexpr char kFieldMonitorActor[] = "field-monitor";

}  // namespace

RoundOutcome RoundSummary::outcome_columns(int64_t abandoned_rounds) const {
  RoundOutcome o;
  o.drops = drops;
  o.clip_norm = clip_norm;
  o.clipped_fraction = clipped_fraction;
  o.epsilon = epsilon;
  o.abandoned_rounds = abandoned_rounds;
  o.field_accuracy = field_accuracy;
  o.field_reports = field_reports;
  o.field_feature_drift = field_feature_drift;
  o.field_prediction_drift = field_prediction_drift;
  o.release = OutcomeName(outcome);
  return o;
}

RoundSummary RoundEngine::HeldLocked(const RoundResult& result,
                                     const PublishedModel& model) {
  RoundSummary summary = SummaryOf(*ctx_);
  summary.participants = result.participants;
  summary.total_examples = result.examples;
  summary.train_loss = result.mean_loss;
  summary.clipped_fraction = result.clipped_fraction();
  summary.version = model.version;
  summary.metrics = model.metrics;
  summary.outcome = RoundSummary::Outcome::kHeld;
  AddFieldStatsLocked(summary, model_->version);
  ++rounds_committed_;
  return summary;
}

void RoundEngine::AddFieldStatsLocked(RoundSummary& summary,
                                      int64_t version) const {
  if (field_ == nullptr) return;
  std::optional<FieldStats> stats = field_->StatsOf(version);
  if (!stats.has_value()) return;
  summary.field_accuracy = stats->mean_accuracy;
  summary.field_reports = stats->reports;
  if (std::optional<FieldDrift> drift = field_->DriftOf(version)) {
    summary.field_feature_drift = drift->feature;
    summary.field_prediction_drift = drift->prediction;
    summary.field_confidence_drift = drift->confidence;
  }
}

void RoundEngine::RecordFieldLocked(
    const std::string& device_id,
    const cohort::v1::FieldEvaluation& evaluation) {
  if (field_ == nullptr) return;
  absl::Status s = field_->Record(device_id, ctx_->model->version, evaluation);
  if (!s.ok()) {
    LOG(WARNING) << "round " << ctx_->round_id << ": field evaluation from "
                 << device_id << " ignored: " << s;
  }
}

void RoundEngine::RecordCheckInField(
    const std::string& device_id,
    const cohort::v1::FieldEvaluation& evaluation) {
  absl::MutexLock lock(&mu_);
  if (field_ == nullptr || options_.secagg.enabled) return;
  const int64_t v = evaluation.version();
  if (v != model_->version && (previous_ == nullptr || v != previous_->version)) {
    VLOG(1) << "field evaluation of version " << v << " from " << device_id
            << " dropped: not the current or previous version";
    return;
  }
  absl::Status s = field_->Record(device_id, v, evaluation);
  if (!s.ok()) {
    // Any device may send one with every check-in: bounded logging.
    LOG_EVERY_N(WARNING, 100) << "check-in field evaluation from "
                              << device_id << " ignored: " << s;
  }
}

void RoundEngine::RecordFieldSum(const RoundResult& result) {
  if (!result.field.has_value()) return;
  absl::MutexLock lock(&mu_);
  if (field_ == nullptr) return;
  absl::Status s = field_->RecordSum(result.parent->version, result.round_id,
                                     *result.field);
  if (!s.ok()) {
    LOG(WARNING) << "round " << result.round_id
                 << ": field statistics of the secure sum ignored: " << s;
  }
}

std::optional<RoundSummary> RoundEngine::MaybeAutoRollback() {
  PendingRollback request;
  int64_t judged = 0;
  {
    absl::MutexLock lock(&mu_);
    if (field_ == nullptr || previous_ == nullptr) return std::nullopt;
    judged = model_->version;
    std::optional<std::string> why =
        field_->Verdict(judged, previous_->version);
    if (!why.has_value()) return std::nullopt;
    request.to_version = previous_->version;
    request.reason = *std::move(why);
  }
  request.actor = kFieldMonitorActor;
  absl::StatusOr<RollbackOutcome> outcome = ExecuteRollback(request);
  if (!outcome.ok()) {
    LOG(ERROR) << "automatic rollback to version " << request.to_version
               << " failed: " << outcome.status();
    return std::nullopt;
  }
  LOG(WARNING) << "automatic rollback (" << request.reason << ")";
  absl::MutexLock lock(&mu_);
  RoundSummary summary = SummaryOf(*ctx_);
  summary.version = outcome->version;
  summary.metrics = model_->metrics;
  summary.outcome = RoundSummary::Outcome::kRolledBack;
  AddFieldStatsLocked(summary, judged);
  ++rounds_committed_;
  return summary;
}

void RoundEngine::RefreshRelease() {
  std::shared_ptr<const PublishedModel> model;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    if (now - last_refresh_ < kReleaseRefresh) return;
    last_refresh_ = now;
    model = model_;
  }
  auto refreshed = committer_.Refreshed(model);
  if (!refreshed.ok()) {
    LOG(WARNING) << "cannot check the current release: " << refreshed.status();
    return;
  }
  if (*refreshed == model) return;
  LOG(INFO) << "version " << model->version << " now under release "
            << (*refreshed)->release;
  absl::MutexLock lock(&mu_);
  if (model_ == model) model_ = *std::move(refreshed);
}

void RoundEngine::HoldSelectionLocked(absl::Time now) {
  if (state_->phase() != RoundPhase::kSelecting || !ctx_->assigned.empty()) {
    return;
  }
  ctx_->started = now;
  ctx_->selection_deadline = now + options_.selection_timeout;
  ctx_->report_deadline = ctx_->selection_deadline + options_.report_timeout;
}

void RoundEngine::SetPaused(bool paused, const std::string& reason,
                            const std::string& actor) {
  absl::MutexLock lock(&mu_);
  if (paused_ == paused) return;
  paused_ = paused;
  LOG(WARNING) << "task " << options_.task << (paused ? " paused" : " resumed")
               << " by " << actor << ": " << reason;
}

bool RoundEngine::paused() const {
  absl::MutexLock lock(&mu_);
  return paused_;
}

bool RoundEngine::pinned() const {
  absl::MutexLock lock(&mu_);
  return model_ != nullptr && model_->pinned;
}

}  // namespace cohort::server
