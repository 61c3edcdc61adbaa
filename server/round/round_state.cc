#include "server/round/round_state.h"

#include "absl/strings/str_cat.h"
#include "common/base/kill_point.h"
#include "common/model/flat_weights.h"
#include "glog/logging.h"
#include "server/round/round_privacy.h"

namespace cohort::server {

const char* PhaseName(RoundPhase phase) {
  switch (phase) {
    case RoundPhase::kSelecting:
      return "selecting";
    case RoundPhase::kReporting:
      return "reporting";
    case RoundPhase::kAggregating:
      return "aggregating";
    case RoundPhase::kCommitting:
      return "committing";
    case RoundPhase::kAbandoned:
      return "abandoned";
    case RoundPhase::kFinished:
      return "finished";
    case RoundPhase::kBuffering:
      return "buffering";
  }
  return "unknown";
}

CheckInOutcome RoundState::HandleCheckIn(RoundContext& ctx,
                                         const std::string& device_id) {
  return MakeRetry(ctx, "not_selecting",
                   absl::StrCat("round ", ctx.round_id, " is ",
                                PhaseName(phase())));
}

absl::StatusOr<cohort::v1::Ack> RoundState::HandleReport(
    RoundContext& ctx, const std::string& device_id,
    const cohort::v1::Report& report) {
  cohort::v1::Ack ack;
  ack.set_round_id(report.round_id());
  ack.set_accepted(false);
  ack.set_message(absl::StrCat("round ", ctx.round_id, " is ",
                               PhaseName(phase()), "; report not used"));
  return ack;
}

absl::Status RoundState::HandleReady(RoundContext& ctx,
                                     const std::string& device_id,
                                     int64_t round_id,
                                     std::shared_ptr<DeviceChannel> channel) {
  return absl::FailedPreconditionError(absl::StrCat(
      "round ", ctx.round_id, " is ", PhaseName(phase()), "; update not used"));
}

void RoundState::HandleDrop(RoundContext& ctx, const std::string& device_id) {
  // A device waiting for the secure cohort no longer counts as ready.
  if (ctx.ready_channels.erase(device_id) > 0) ctx.reported.erase(device_id);
  if (ctx.assigned.contains(device_id) && !ctx.reported.contains(device_id)) {
    DropDevice(ctx, device_id, &DropCounts::disconnect);
  }
}

std::unique_ptr<RoundState> RoundState::ProceedToNext(RoundContext& ctx,
                                                      absl::Time now) {
  return nullptr;
}

CheckInOutcome SelectingState::HandleCheckIn(RoundContext& ctx,
                                             const std::string& device_id) {
  if (ctx.assigned.contains(device_id)) {
    return MakeRetry(ctx, "already_assigned",
                     "device already holds an assignment this round");
  }
  if (static_cast<int>(ctx.assigned.size()) >=
      ctx.options->selection_target()) {
    return MakeRetry(ctx, "round_full", "round is full");
  }
  ctx.assigned.insert(device_id);
  base::KillPoint("server.selection");
  return MakeAssignment(ctx);
}

absl::StatusOr<cohort::v1::Ack> SelectingState::HandleReport(
    RoundContext& ctx, const std::string& device_id,
    const cohort::v1::Report& report) {
  return AcceptReport(ctx, device_id, report);
}

absl::Status SelectingState::HandleReady(
    RoundContext& ctx, const std::string& device_id, int64_t round_id,
    std::shared_ptr<DeviceChannel> channel) {
  return AcceptReady(ctx, device_id, round_id, std::move(channel));
}

void SelectingState::HandleDrop(RoundContext& ctx,
                                const std::string& device_id) {
  if (ctx.ready_channels.contains(device_id)) {
    RoundState::HandleDrop(ctx, device_id);
    return;
  }
  if (!ctx.reported.contains(device_id) && !ctx.dropped.contains(device_id)) {
    ctx.assigned.erase(device_id);
  }
}

std::unique_ptr<RoundState> SelectingState::ProceedToNext(RoundContext& ctx,
                                                          absl::Time now) {
  const int assigned = static_cast<int>(ctx.assigned.size());
  const bool full = assigned >= ctx.options->selection_target();
  const bool timed_out = now >= ctx.selection_deadline &&
                         assigned >= ctx.options->min_reports;
  // Fast devices may reach the goal before selection would close.
  const bool goal_met =
      static_cast<int>(ctx.reported.size()) >= ctx.options->goal_count;
  if (!full && !timed_out && !goal_met) return nullptr;
  // Report deadline counts from the end of selection.
  ctx.report_deadline = now + ctx.options->report_timeout;
  return std::make_unique<ReportingState>();
}

absl::StatusOr<cohort::v1::Ack> ReportingState::HandleReport(
    RoundContext& ctx, const std::string& device_id,
    const cohort::v1::Report& report) {
  return AcceptReport(ctx, device_id, report);
}

absl::Status ReportingState::HandleReady(
    RoundContext& ctx, const std::string& device_id, int64_t round_id,
    std::shared_ptr<DeviceChannel> channel) {
  return AcceptReady(ctx, device_id, round_id, std::move(channel));
}

namespace {

// Records why the round ends without a version and ends the streams of
// devices still waiting for a secure round that will not run.
std::unique_ptr<RoundState> Abandon(RoundContext& ctx, AbandonReason reason) {
  reason.drops = ctx.drops;
  const std::string why = reason.ToString();
  for (auto& [device, channel] : ctx.ready_channels) {
    cohort::v1::ServerMessage m;
    m.mutable_ack()->set_round_id(ctx.round_id);
    m.mutable_ack()->set_accepted(false);
    m.mutable_ack()->set_message(why);
    channel->Send(std::move(m));
  }
  ctx.ready_channels.clear();
  ctx.abandon = std::move(reason);
  return std::make_unique<AbandonedState>();
}

// The reason of a round that ends in Reporting short of min_reports.
AbandonReason ReportsReason(const RoundContext& ctx, AbandonCause cause) {
  AbandonReason r;
  r.cause = cause;
  r.phase = PhaseName(RoundPhase::kReporting);
  r.threshold = ctx.options->min_reports;
  r.survivors = static_cast<int64_t>(ctx.reported.size());
  r.cohort = static_cast<int64_t>(ctx.assigned.size());
  return r;
}

// The FedAvg mean of a decoded secure sum, laid out like `model`.
absl::StatusOr<cohort::v1::Weights> MeanDelta(
    const cohort::v1::Weights& model, const secagg::DecodedUpdateSum& sum) {
  std::vector<double> values = sum.weighted_delta_sum;
  for (double& v : values) v /= sum.weight_sum;
  return model::UnflattenLike(model, values);
}

// The field statistics in a decoded secure sum; nullopt (logged when the
// sum is malformed) without any. The update is committed either way.
std::optional<secagg::FieldMean> FieldOfSum(
    int64_t round_id, const secagg::UpdateEncoding& encoding,
    const secagg::DecodedUpdateSum& sum, int64_t contributors) {
  auto mean = secagg::FieldMeanOfSum(encoding.field, sum.field_sum,
                                     encoding.loss_cap, contributors);
  if (!mean.ok()) {
    LOG(WARNING) << "round " << round_id
                 << ": field statistics in the secure sum ignored: "
                 << mean.status();
    return std::nullopt;
  }
  return *std::move(mean);
}

// A plain round: its mean is taken now, so the commit receives the same
// RoundResult a secure round hands over.
std::unique_ptr<RoundState> CommitPlain(RoundContext& ctx) {
  auto result = PlainResult(ctx);
  if (!result.ok()) {
    AbandonReason r;
    r.cause = AbandonCause::kCommitFailed;
    r.phase = PhaseName(RoundPhase::kCommitting);
    r.survivors = static_cast<int64_t>(ctx.reported.size());
    r.cohort = static_cast<int64_t>(ctx.assigned.size());
    r.detail = std::string(result.status().message());
    return Abandon(ctx, std::move(r));
  }
  ctx.result = *std::move(result);
  return std::make_unique<CommittingState>();
}

// Enough updates are in: commit them, or start aggregating them securely.
std::unique_ptr<RoundState> Conclude(RoundContext& ctx, absl::Time now) {
  if (!ctx.options->secagg.enabled) return CommitPlain(ctx);
  // A copy: if SecAgg+ cannot start, Abandon still answers every device.
  auto round = SecAggGroups::Start(
      ctx.options->secagg, EncodedBound(ctx), ctx.round_id,
      model::TotalElements(*ctx.shared), ctx.ready_channels, now,
      ctx.options->threads, ctx.update_scales);
  if (!round.ok()) {
    AbandonReason r;
    r.cause = AbandonCause::kSecAggNotStarted;
    r.phase = "start";
    r.cohort = static_cast<int64_t>(ctx.ready_channels.size());
    r.survivors = r.cohort;
    r.detail = std::string(round.status().message());
    return Abandon(ctx, std::move(r));
  }
  ctx.ready_channels.clear();
  ctx.secagg = *std::move(round);
  return std::make_unique<AggregatingState>();
}

// The Ack of a device whose SecAgg+ instance aborted or was left out.
constexpr char kSecAggAbortedAck[] =
    "secure aggregation aborted; no sum was released";

void CountSecAggDrops(const SecAggGroups& s, DropCounts& drops) {
  const std::array<int, 4> by_phase = s.dropped_by_phase();
  for (size_t i = 0; i < by_phase.size(); ++i) {
    drops.secagg_by_phase[i] = by_phase[i];
  }
}

// SecAgg+ aborted: no sum is released; the reason names its phase.
std::unique_ptr<RoundState> SecAggAborted(RoundContext& ctx) {
  SecAggGroups& s = *ctx.secagg;
  s.SendAcks(kSecAggAbortedAck, kSecAggAbortedAck);
  ctx.drops.secagg = s.num_clients() - s.live_count();
  CountSecAggDrops(s, ctx.drops);
  AbandonReason r;
  r.cause = AbandonCause::kSecAggAborted;
  r.cohort = s.num_clients();
  if (auto info = s.abort_info()) {
    r.phase = info->phase;
    r.threshold = info->threshold;
    r.survivors = info->survivors;
    r.detail = std::string(info->status.message());
  }
  return Abandon(ctx, std::move(r));
}

// SecAgg+ completed: decode the sum into the round's RoundResult and commit
// it.
// The secure sum's clipped count, unless it exceeds the inputs summed: each
// honest device adds 0 or 1, so a larger count is a device's forged
// coordinate, and adaptive clipping must not learn from it (nullopt).
std::optional<int64_t> ClippedOfSum(int64_t round_id, int64_t clipped,
                                    int64_t contributors) {
  if (clipped <= contributors) return clipped;
  LOG(WARNING) << "round " << round_id << ": the secure sum counts " << clipped
               << " clipped updates of " << contributors
               << "; a device forged its count, which is ignored";
  return std::nullopt;
}

// Fewer inputs in the secure sum than min_reports (groups were left out,
// or devices left between ready and their masked input): not committed.
std::unique_ptr<RoundState> TooFewInSum(RoundContext& ctx) {
  SecAggGroups& s = *ctx.secagg;
  s.SendAcks("too few inputs in the secure sum; the round was not committed",
             kSecAggAbortedAck, /*accept=*/false);
  AbandonReason r;
  r.cause = AbandonCause::kTooFewReports;
  r.phase = "the secure sum";
  r.threshold = ctx.options->min_reports;
  r.survivors = s.contributors();
  r.cohort = s.num_clients();
  r.detail = absl::StrCat(s.groups_left_out(), " of ", s.num_groups(),
                          " SecAgg groups left out");
  return Abandon(ctx, std::move(r));
}

std::unique_ptr<RoundState> SecAggCompleted(RoundContext& ctx) {
  SecAggGroups& s = *ctx.secagg;
  // First: a group whose sum does not decode is left out of what follows.
  auto sum = s.Result();
  ctx.drops.secagg = s.num_clients() - s.contributors();
  CountSecAggDrops(s, ctx.drops);
  if (s.groups_left_out() > 0) {
    LOG(WARNING) << "round " << ctx.round_id << ": " << s.groups_left_out()
                 << " of " << s.num_groups()
                 << " SecAgg groups left out; their devices' inputs are not "
                    "in the sum";
  }
  if (sum.ok() && s.contributors() < ctx.options->min_reports) {
    return TooFewInSum(ctx);
  }
  if (sum.ok()) sum = CheckPrivateSum(*ctx.options, s.contributors(), *std::move(sum));
  auto mean = sum.ok() ? MeanDelta(*ctx.shared, *sum)
                       : absl::StatusOr<cohort::v1::Weights>(sum.status());
  if (!mean.ok()) {
    s.SendAcks("the secure sum could not be decoded", kSecAggAbortedAck,
               /*accept=*/false);
    AbandonReason r;
    r.cause = AbandonCause::kSumUndecodable;
    r.phase = "Completed";
    r.cohort = s.num_clients();
    r.survivors = s.contributors();
    r.detail = std::string(mean.status().message());
    return Abandon(ctx, std::move(r));
  }
  ctx.result = RoundResult{
      .round_id = ctx.round_id,
      .parent = ctx.model,
      .mean_delta = *std::move(mean),
      .examples = sum->capped_examples,
      .participants = s.contributors(),
      .mean_loss = sum->mean_loss,
      // Distributed DP devices send no clipped bit.
      .clipped = ctx.options->privacy.distributed
                     ? std::nullopt
                     : ClippedOfSum(ctx.round_id, sum->clipped_updates,
                                    s.contributors()),
      .field = FieldOfSum(ctx.round_id, s.encoding(), *sum, s.contributors()),
  };
  s.SendAcks("input not in the secure sum", kSecAggAbortedAck);
  return std::make_unique<CommittingState>();
}

}  // namespace

std::unique_ptr<RoundState> ReportingState::ProceedToNext(RoundContext& ctx,
                                                          absl::Time now) {
  const int64_t reported = static_cast<int64_t>(ctx.reported.size());
  const int min = ctx.options->min_reports;
  if (reported >= ctx.options->goal_count) return Conclude(ctx, now);
  if (now >= ctx.report_deadline) {
    // The round goes on without the devices still working.
    ctx.drops.timeout = ctx.outstanding();
  }
  const bool over = now >= ctx.report_deadline || ctx.outstanding() == 0;
  if (over) {
    if (reported >= min) return Conclude(ctx, now);
    return Abandon(ctx, ReportsReason(ctx, AbandonCause::kTooFewReports));
  }
  // Quorum can no longer be reached: stop waiting.
  if (reported + ctx.outstanding() < min) {
    return Abandon(ctx, ReportsReason(ctx, AbandonCause::kQuorumUnreachable));
  }
  return nullptr;
}

CheckInOutcome BufferingState::HandleCheckIn(RoundContext& ctx,
                                             const std::string& device_id) {
  BufferLedger& open = *ctx.in_flight;
  const int concurrency = ctx.options->buffered->concurrency;
  if (open.contains(device_id)) {
    return MakeRetry(ctx, "already_assigned",
                     "device already holds an open assignment");
  }
  // One update per device and buffer (its id keys the buffer's sets).
  if (ctx.reported.contains(device_id)) {
    return MakeRetry(ctx, "already_assigned",
                     absl::StrCat("device's update is in buffer ",
                                  ctx.round_id, "; check in after it commits"));
  }
  if (static_cast<int>(open.size()) >= concurrency) {
    return MakeRetry(ctx, "round_full",
                     absl::StrCat(concurrency, " devices are at work"));
  }
  open.Assign(device_id, InFlight{.round_id = ctx.round_id,
                                  .version = ctx.model->version,
                                  .clip_norm = ctx.clip_norm,
                                  .deadline = ctx.report_deadline});
  ctx.assigned.insert(device_id);
  base::KillPoint("server.selection");
  return MakeAssignment(ctx);
}

absl::StatusOr<cohort::v1::Ack> BufferingState::HandleReport(
    RoundContext& ctx, const std::string& device_id,
    const cohort::v1::Report& report) {
  return AcceptReport(ctx, device_id, report);
}

absl::Status BufferingState::HandleReady(
    RoundContext& ctx, const std::string& device_id, int64_t round_id,
    std::shared_ptr<DeviceChannel> channel) {
  return AcceptReady(ctx, device_id, round_id, std::move(channel));
}

std::unique_ptr<RoundState> BufferingState::ProceedToNext(RoundContext& ctx,
                                                          absl::Time now) {
  // Assignments made from now on are due report_timeout after this tick.
  ctx.report_deadline = now + ctx.options->report_timeout;
  ctx.drops.timeout += ctx.in_flight->Expire(now);
  if (static_cast<int>(ctx.reported.size()) >= ctx.options->goal_count) {
    return Conclude(ctx, now);
  }
  return nullptr;
}

void AggregatingState::HandleDrop(RoundContext& ctx,
                                  const std::string& device_id) {
  RoundState::HandleDrop(ctx, device_id);
  ctx.secagg->Gone(device_id);
}

std::unique_ptr<RoundState> AggregatingState::ProceedToNext(RoundContext& ctx,
                                                            absl::Time now) {
  ctx.secagg->Tick(now);
  if (ctx.secagg->aborted()) {
    LOG(WARNING) << "round " << ctx.round_id << ": "
                 << ctx.secagg->abort_status();
    return SecAggAborted(ctx);
  }
  if (!ctx.secagg->completed()) return nullptr;
  return SecAggCompleted(ctx);
}

}  // namespace cohort::server
