#include "server/round/round_engine.h"

#include "absl/strings/str_cat.h"
#include "common/base/kill_point.h"
#include "common/base/status_macros.h"
#include "common/model/running_statistics.h"
#include "glog/logging.h"
#include "server/aggregation/fedavg_aggregator.h"
#include "server/aggregation/robust_aggregator.h"
#include "server/round/round_privacy.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

AbandonReason CommitFailedReason(const RoundContext& ctx,
                                 const absl::Status& status) {
  AbandonReason r;
  r.cause = AbandonCause::kCommitFailed;
  r.phase = PhaseName(RoundPhase::kCommitting);
  r.survivors = static_cast<int64_t>(ctx.reported.size());
  r.cohort = static_cast<int64_t>(ctx.assigned.size());
  r.drops = ctx.drops;
  r.detail = std::string(status.message());
  return r;
}

}  // namespace

RoundEngine::RoundEngine(RoundOptions options, Store* store,
                         TaskModel* task_model, base::Clock* clock,
                         Observer observer, ReleaseRegistry* registry)
    : options_(std::move(options)),
      store_(store),
      task_model_(task_model),
      clock_(clock),
      observer_(std::move(observer)),
      committer_(options_, store, task_model, clock, registry) {
  if (options_.field_min_reports > 0) {
    field_ = std::make_unique<FieldMonitor>(options_.field_min_reports,
                                            options_.field_max_accuracy_drop);
  }
}

absl::Status RoundEngine::Start() {
  COHORT_ASSIGN_OR_RETURN(auto current, store_->GetCurrent(options_.task));
  std::shared_ptr<const PublishedModel> model;
  if (current.has_value()) {
    COHORT_ASSIGN_OR_RETURN(model, LoadRecord(*current));
    COHORT_RETURN_IF_ERROR(
        committer_.RestoreOptimizer(*current, model->weights));
    if (options_.privacy.enabled) {
      COHORT_RETURN_IF_ERROR(committer_.LoadPrivacyRounds());
    }
    LOG(INFO) << "resuming task " << options_.task << " from version "
              << model->version;
  } else {
    COHORT_ASSIGN_OR_RETURN(model, committer_.CommitInitial());
    LOG(INFO) << "created task " << options_.task << " at version 1";
  }
  if (options_.privacy.enabled) {
    LOG(INFO) << DescribePrivacy(options_.privacy) << "; "
              << committer_.privacy_rounds() << " rounds spent so far";
  }
  COHORT_ASSIGN_OR_RETURN(int64_t last_round, store_->LastRoundId(options_.task));
  absl::MutexLock lock(&mu_);
  model_ = std::move(model);
  clip_norm_ = committer_.clip_norm();
  dp_rounds_ = committer_.privacy_rounds();
  next_round_id_ = last_round + 1;
  // A task whose privacy budget is spent stays finished after a restart.
  OpenNextLocked();
  return absl::OkStatus();
}

void RoundEngine::OpenRoundLocked(absl::Time now) {
  auto ctx = std::make_unique<RoundContext>();
  ctx->options = &options_;
  ctx->round_id = next_round_id_++;
  ctx->model = model_;
  ctx->started = now;
  ctx->selection_deadline = now + options_.selection_timeout;
  ctx->report_deadline = ctx->selection_deadline + options_.report_timeout;
  ctx->clip_norm = clip_norm_;
  ctx->shared = SharedWeights(model_, options_.personal);
  ctx->statistics_clip_norm =
      StatisticsClipNorm(options_.clipping, *ctx->shared);
  if (options_.robust.has_value()) {
    ctx->aggregator =
        std::make_unique<RobustAggregator>(*ctx->shared, *options_.robust);
  } else {
    ctx->aggregator =
        std::make_unique<FedAvgAggregator>(*ctx->shared, options_.threads);
  }
  if (options_.buffered.has_value()) {
    // The open assignments outlive the buffer they were made in.
    ctx->in_flight = ctx_ != nullptr && ctx_->in_flight != nullptr
                         ? ctx_->in_flight
                         : std::make_shared<BufferLedger>(
                               options_.buffered->max_staleness,
                               options_.buffered->staleness_exponent);
    ctx->report_deadline = now + options_.report_timeout;
    ctx_ = std::move(ctx);
    state_ = std::make_unique<BufferingState>();
    VLOG(1) << "buffer " << ctx_->round_id << " open";
    return;
  }
  ctx_ = std::move(ctx);
  state_ = std::make_unique<SelectingState>();
  VLOG(1) << "round " << ctx_->round_id << " open";
}

void RoundEngine::AdvanceLocked(absl::Time now) {
  while (auto next = state_->ProceedToNext(*ctx_, now)) state_ = std::move(next);
}

void RoundEngine::CountDevice(const std::string& device_id, int check_ins,
                              int accepted, int rejected) {
  if (pending_devices_.size() >= kMaxPendingDevices &&
      !pending_devices_.contains(device_id)) {
    return;
  }
  DeviceCounts& c = pending_devices_[device_id];
  c.last_seen_ms = absl::ToUnixMillis(clock_->Now());
  c.check_ins += check_ins;
  c.accepted += accepted;
  c.rejected += rejected;
}

CheckInOutcome RoundEngine::CheckIn(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  if (paused_) return MakeRetry(*ctx_, "paused", "task paused");
  CheckInOutcome out = state_->HandleCheckIn(*ctx_, device_id);
  // Only devices given work are remembered, so a flood of check-ins under
  // made-up ids costs no memory or disk.
  if (std::holds_alternative<cohort::v1::TaskAssignment>(out)) {
    CountDevice(device_id, 1, 0, 0);
  }
  AdvanceLocked(clock_->Now());
  return out;
}

absl::StatusOr<cohort::v1::Ack> RoundEngine::SubmitReport(
    const std::string& device_id, const cohort::v1::Report& report) {
  absl::MutexLock lock(&mu_);
  CloseUnusableAssignmentLocked(device_id, report.round_id());
  auto ack = state_->HandleReport(*ctx_, device_id, report);
  bool used = ack.ok() && ack->accepted();
  if (used && report.has_field_evaluation()) {
    RecordFieldLocked(device_id, report.field_evaluation());
  }
  if (ack.ok() || ack.status().code() == absl::StatusCode::kInvalidArgument) {
    CountDevice(device_id, 0, used ? 1 : 0, used ? 0 : 1);
  }
  if (ack.status().code() == absl::StatusCode::kFailedPrecondition) {
    // A buffered task's stale update: routine, and counted as a timeout.
    VLOG(1) << "round " << ctx_->round_id << ": report from " << device_id
            << " refused: " << ack.status();
  } else if (!ack.ok()) {
    LOG(WARNING) << "round " << ctx_->round_id << ": report from "
                 << device_id << " refused: " << ack.status();
  }
  AdvanceLocked(clock_->Now());
  return ack;
}

absl::StatusOr<std::optional<cohort::v1::Ack>> RoundEngine::SubmitSecAgg(
    const std::string& device_id, int64_t round_id,
    const cohort::v1::SecAggClientMessage& message,
    std::shared_ptr<DeviceChannel> channel) {
  std::shared_ptr<SecAggGroups> round;
  {
    absl::MutexLock lock(&mu_);
    if (message.has_ready()) {
      CloseUnusableAssignmentLocked(device_id, message.ready().round_id());
      absl::Status s = state_->HandleReady(*ctx_, device_id,
                                           message.ready().round_id(),
                                           std::move(channel));
      if (s.code() == absl::StatusCode::kFailedPrecondition) {
        cohort::v1::Ack ack;
        ack.set_round_id(message.ready().round_id());
        ack.set_accepted(false);
        ack.set_message(std::string(s.message()));
        return std::optional<cohort::v1::Ack>(ack);
      }
      if (!s.ok()) {
        if (s.code() == absl::StatusCode::kInvalidArgument) {
          CountDevice(device_id, 0, 0, 1);
        }
        return s;
      }
      AdvanceLocked(clock_->Now());
      return std::optional<cohort::v1::Ack>();
    }
    // A buffered device's stream is of the round it was assigned in; its
    // SecAgg+ instance (if any) is the open buffer's.
    const bool this_round =
        ctx_->in_flight != nullptr || round_id == ctx_->round_id;
    if (!this_round || ctx_->secagg == nullptr) {
      return absl::AbortedError(absl::StrCat(
          "no secure aggregation is running for round ", round_id));
    }
    round = ctx_->secagg;
  }
  // Without the engine's lock: the last message of a phase may trigger the
  // unmasking, which must not stall check-ins.
  absl::Status s = round->Receive(device_id, message);
  if (!s.ok()) {
    LOG(WARNING) << "round " << round_id << ": SecAgg message from "
                 << device_id << " refused: " << s;
    return s;
  }
  return std::optional<cohort::v1::Ack>();
}

void RoundEngine::CloseUnusableAssignmentLocked(const std::string& device_id,
                                                 int64_t round_id) {
  if (ctx_->in_flight != nullptr &&
      state_->phase() != RoundPhase::kBuffering) {
    ctx_->in_flight->Close(device_id, round_id);
  }
}

void RoundEngine::Drop(const std::string& device_id, int64_t round_id) {
  absl::MutexLock lock(&mu_);
  if (ctx_->in_flight != nullptr) {
    // Buffered: the stream may belong to an earlier buffer's assignment.
    if (ctx_->in_flight->Close(device_id, round_id)) {
      DropDevice(*ctx_, device_id, &DropCounts::disconnect);
    } else if (!ctx_->reported.contains(device_id)) {
      return;
    }
  } else if (round_id != ctx_->round_id) {
    return;
  }
  state_->HandleDrop(*ctx_, device_id);
  AdvanceLocked(clock_->Now());
}

bool RoundEngine::RunOnce() {
  if (held_commit_.has_value()) {
    RunPendingRollbacks();  // they fail fast while the store is away
    if (clock_->Now() < held_commit_->next_try) return true;
    return RetryHeldCommit();
  }
  RunPendingRollbacks();
  RefreshRelease();
  std::optional<RoundResult> result;
  double clip_norm = 0.0;
  std::optional<RoundSummary> abandoned;
  {
    absl::MutexLock lock(&mu_);
    if (state_->phase() == RoundPhase::kFinished) return false;
    if (paused_) HoldSelectionLocked(clock_->Now());
    AdvanceLocked(clock_->Now());
    const RoundPhase phase = state_->phase();
    if (phase == RoundPhase::kAbandoned) abandoned = AbandonLocked();
    if (phase == RoundPhase::kCommitting) {
      result = TakeResultLocked();
      result->statistics_units = StatisticsUnits(*ctx_);
      clip_norm = EncodedBound(*ctx_);
    }
  }
  if (abandoned.has_value() && observer_) observer_(*abandoned);
  if (!result.has_value()) return true;
  return CommitAndAdvance(*std::move(result), clip_norm);
}

RoundSummary RoundEngine::AbandonLocked() {
  RoundSummary summary = SummaryOf(*ctx_);
  summary.version = model_->version;
  // Every state that abandons says why; a missing reason is a bug, but
  // the round is still abandoned and reported.
  summary.abandoned = ctx_->abandon.value_or(AbandonReason{});
  summary.epsilon = SpentEpsilonLocked();
  LOG(WARNING) << "round " << ctx_->round_id
               << " abandoned: " << summary.abandoned->ToString();
  OpenRoundLocked(clock_->Now());
  return summary;
}

RoundResult RoundEngine::TakeResultLocked() {
  // Every state that moves a round to Committing sets its result first.
  CHECK(ctx_->result.has_value())
      << "round " << ctx_->round_id << " is committing without a result";
  RoundResult result = *std::move(ctx_->result);
  ctx_->result.reset();
  return result;
}

bool RoundEngine::CommitAndAdvance(RoundResult result, double clip_norm) {
  base::KillPoint("server.aggregated");
  RecordFieldSum(result);
  if (std::optional<RoundSummary> rolled_back = MaybeAutoRollback()) {
    return Advance(*std::move(rolled_back));
  }
  // The noise is drawn once per round: a retried commit would release a
  // second draw of the same data, so a held commit keeps this result.
  if (absl::Status noised = PrivatizeRound(options_, clip_norm, result);
      !noised.ok()) {
    return EndCommit(result, noised);
  }
  model::ScaleStatistics(&result.mean_delta, result.statistics_units);
  result.statistics_units = 1.0;
  auto committed = committer_.Commit(result);
  if (!committed.ok() && IsStoreAway(committed.status())) {
    return HoldForStore(std::move(result), committed.status());
  }
  return EndCommit(result, std::move(committed));
}

bool RoundEngine::EndCommit(
    const RoundResult& result,
    absl::StatusOr<std::shared_ptr<const PublishedModel>> committed) {
  if (!committed.ok()) {
    LOG(ERROR) << "round " << result.round_id << " not committed: "
               << committed.status();
    ReconcileWithStore();
  }
  RoundSummary summary;
  {
    absl::MutexLock lock(&mu_);
    if (!committed.ok()) {
      summary = CommitFailedLocked(committed.status());
    } else if ((*committed)->held) {
      summary = HeldLocked(result, **committed);
    } else {
      summary = AdoptLocked(result, *std::move(committed));
    }
  }
  return Advance(std::move(summary));
}

bool RoundEngine::Advance(RoundSummary summary) {
  bool running;
  {
    absl::MutexLock lock(&mu_);
    dp_rounds_ = committer_.privacy_rounds();
    summary.epsilon = SpentEpsilonLocked();
    running = OpenNextLocked();
  }
  FlushDevices();
  if (observer_) observer_(summary);
  return running;
}

RoundSummary RoundEngine::AdoptLocked(
    const RoundResult& result, std::shared_ptr<const PublishedModel> model) {
  RoundSummary summary = SummaryOf(*ctx_);
  summary.participants = result.participants;
  summary.total_examples = result.examples;
  summary.train_loss = result.mean_loss;
  summary.clipped_fraction = result.clipped_fraction();
  summary.version = model->version;
  summary.metrics = model->metrics;
  AddFieldStatsLocked(summary, model_->version);
  previous_ = std::move(model_);
  model_ = std::move(model);
  clip_norm_ = committer_.clip_norm();
  ++rounds_committed_;
  return summary;
}

RoundSummary RoundEngine::CommitFailedLocked(const absl::Status& status) {
  RoundSummary summary = SummaryOf(*ctx_);
  summary.version = model_->version;
  summary.abandoned = CommitFailedReason(*ctx_, status);
  return summary;
}

double RoundEngine::SpentEpsilonLocked() const {
  return ReportedEpsilon(options_.privacy, dp_rounds_);
}

bool RoundEngine::OpenNextLocked() {
  if (options_.max_rounds > 0 && rounds_committed_ >= options_.max_rounds) {
    state_ = std::make_unique<FinishedState>();
    return false;
  }
  if (auto spent = BudgetStopReason(options_.privacy, dp_rounds_)) {
    LOG(WARNING) << "task " << options_.task << " stops: " << *spent;
    state_ = std::make_unique<FinishedState>();
    return false;
  }
  OpenRoundLocked(clock_->Now());
  return true;
}

void RoundEngine::Run(absl::Notification* stop, absl::Duration tick) {
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  while (!stop->HasBeenNotified() && RunOnce()) {
    stop->WaitForNotificationWithTimeout(tick);
  }
  absl::MutexLock lock(&mu_);
  running_ = false;
  // Nobody will run what is still queued.
  for (const auto& request : rollbacks_) {
    request->result = absl::UnavailableError("the round engine stopped");
    request->done.Notify();
  }
  rollbacks_.clear();
}

absl::StatusOr<RollbackOutcome> RoundEngine::RollBack(
    int64_t to_version, const std::string& reason, const std::string& actor,
    ReleaseRecord::Kind kind) {
  auto request = std::make_shared<PendingRollback>();
  request->to_version = to_version;
  request->reason = reason;
  request->actor = actor;
  request->kind = kind;
  {
    absl::MutexLock lock(&mu_);
    if (!running_) {
      return absl::UnavailableError("the round engine is not running");
    }
    rollbacks_.push_back(request);
  }
  if (!request->done.WaitForNotificationWithTimeout(absl::Minutes(2))) {
    return absl::DeadlineExceededError(
        "the round engine did not get to the rollback in two minutes");
  }
  return request->result;
}

bool RoundEngine::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

std::shared_ptr<const PublishedModel> RoundEngine::current_model() const {
  absl::MutexLock lock(&mu_);
  return model_;
}

std::shared_ptr<const PublishedModel> RoundEngine::FindModel(
    int64_t version) const {
  absl::MutexLock lock(&mu_);
  if (model_ && model_->version == version) return model_;
  if (previous_ && previous_->version == version) return previous_;
  return nullptr;
}

RoundPhase RoundEngine::phase() const {
  absl::MutexLock lock(&mu_);
  return state_->phase();
}

int64_t RoundEngine::round_id() const {
  absl::MutexLock lock(&mu_);
  return ctx_->round_id;
}

bool RoundEngine::has_running_statistics() const {
  absl::MutexLock lock(&mu_);
  return ctx_->statistics_clip_norm > 0;
}

int64_t RoundEngine::rounds_committed() const {
  absl::MutexLock lock(&mu_);
  return rounds_committed_;
}

}  // namespace cohort::server

namespace cohort::server {

int64_t RoundEngine::assigned_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(ctx_->assigned.size());
}

}  // namespace cohort::server
