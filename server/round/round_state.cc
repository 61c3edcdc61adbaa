#include "server/round/round_state.h"

#include "absl/strings/str_cat.h"

namespace cohort::server {

const char* PhaseName(RoundPhase phase) {
  switch (phase) {
    case RoundPhase::kSelecting:
      return "selecting";
    case RoundPhase::kReporting:
      return "reporting";
    case RoundPhase::kCommitting:
      return "committing";
    case RoundPhase::kAbandoned:
      return "abandoned";
    case RoundPhase::kFinished:
      return "finished";
  }
  return "unknown";
}

CheckInOutcome RoundState::HandleCheckIn(RoundContext& ctx,
                                         const std::string& device_id) {
  return MakeRetry(ctx, absl::StrCat("round ", ctx.round_id, " is ",
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

void RoundState::HandleDrop(RoundContext& ctx, const std::string& device_id) {
  if (ctx.assigned.contains(device_id) && !ctx.reported.contains(device_id)) {
    ctx.dropped.insert(device_id);
  }
}

std::unique_ptr<RoundState> RoundState::ProceedToNext(RoundContext& ctx,
                                                      absl::Time now) {
  return nullptr;
}

CheckInOutcome SelectingState::HandleCheckIn(RoundContext& ctx,
                                             const std::string& device_id) {
  if (ctx.assigned.contains(device_id)) {
    return MakeRetry(ctx, "device already holds an assignment this round");
  }
  if (static_cast<int>(ctx.assigned.size()) >=
      ctx.options->selection_target()) {
    return MakeRetry(ctx, "round is full");
  }
  ctx.assigned.insert(device_id);
  return MakeAssignment(ctx);
}

absl::StatusOr<cohort::v1::Ack> SelectingState::HandleReport(
    RoundContext& ctx, const std::string& device_id,
    const cohort::v1::Report& report) {
  return AcceptReport(ctx, device_id, report);
}

void SelectingState::HandleDrop(RoundContext& ctx,
                                const std::string& device_id) {
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

std::unique_ptr<RoundState> ReportingState::ProceedToNext(RoundContext& ctx,
                                                          absl::Time now) {
  const int64_t reported = static_cast<int64_t>(ctx.reported.size());
  const int min = ctx.options->min_reports;
  if (reported >= ctx.options->goal_count) {
    return std::make_unique<CommittingState>();
  }
  const bool over = now >= ctx.report_deadline || ctx.outstanding() == 0;
  if (over) {
    if (reported >= min) return std::make_unique<CommittingState>();
    return std::make_unique<AbandonedState>();
  }
  // Quorum can no longer be reached: stop waiting.
  if (reported + ctx.outstanding() < min) {
    return std::make_unique<AbandonedState>();
  }
  return nullptr;
}

}  // namespace cohort::server
