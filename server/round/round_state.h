#ifndef COHORT_SERVER_ROUND_ROUND_STATE_H_
#define COHORT_SERVER_ROUND_ROUND_STATE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "server/round/round_context.h"

namespace cohort::server {

enum class RoundPhase {
  kSelecting,   // assigning devices, up to the over-selection target
  kReporting,   // waiting for reports until the goal or the deadline
  kAggregating, // secure rounds: SecAgg+ runs over the fixed cohort
  kCommitting,  // the engine is turning the sum into a new version
  kAbandoned,   // quorum lost; nothing from this round is kept
  kFinished,    // max_rounds reached; the server only sends RetryWindow
  kBuffering,   // buffered rounds: assigning and taking updates until K
};

const char* PhaseName(RoundPhase phase);

// One state of a round. The engine calls these under its mutex with the
// round's context; ProceedToNext returns the next state, or nullptr to stay.
// A state that returns AbandonedState first sets ctx.abandon to the reason.
// Drops are counted by cause in ctx.drops (timeouts when the report deadline
// closes the round, disconnects here, malformed reports in AcceptReport,
// SecAgg+ losses when aggregation ends).
// Transitions: Selecting -> Reporting -> Committing | Abandoned, and for
// secure rounds Reporting -> Aggregating -> Committing | Abandoned.
// Buffered rounds: Buffering -> Committing, or for secure buffers
// Buffering -> Aggregating -> Committing | Abandoned.
// Committing, Abandoned and Finished are left by the engine itself.
class RoundState {
 public:
  virtual ~RoundState() = default;
  virtual RoundPhase phase() const = 0;

  // Default: the device is not needed now.
  virtual CheckInOutcome HandleCheckIn(RoundContext& ctx,
                                       const std::string& device_id);
  // Default: the round no longer takes reports (Ack with accepted = false).
  virtual absl::StatusOr<cohort::v1::Ack> HandleReport(
      RoundContext& ctx, const std::string& device_id,
      const cohort::v1::Report& report);
  // Secure rounds: a device finished training (see AcceptReady). Default:
  // FAILED_PRECONDITION, the cohort is fixed or the round is over; the
  // device's update is not used.
  virtual absl::Status HandleReady(RoundContext& ctx,
                                   const std::string& device_id,
                                   int64_t round_id,
                                   std::shared_ptr<DeviceChannel> channel);
  // A device's stream ended before it reported.
  virtual void HandleDrop(RoundContext& ctx, const std::string& device_id);
  virtual std::unique_ptr<RoundState> ProceedToNext(RoundContext& ctx,
                                                    absl::Time now);
};

// Assigns devices until the target is reached, goal_count reports are in, or
// selection times out with at least min_reports assigned. Accepts early
// reports.
class SelectingState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kSelecting; }
  CheckInOutcome HandleCheckIn(RoundContext& ctx,
                               const std::string& device_id) override;
  absl::StatusOr<cohort::v1::Ack> HandleReport(
      RoundContext& ctx, const std::string& device_id,
      const cohort::v1::Report& report) override;
  absl::Status HandleReady(RoundContext& ctx, const std::string& device_id,
                           int64_t round_id,
                           std::shared_ptr<DeviceChannel> channel) override;
  // A device lost during selection frees its slot for another.
  void HandleDrop(RoundContext& ctx, const std::string& device_id) override;
  std::unique_ptr<RoundState> ProceedToNext(RoundContext& ctx,
                                            absl::Time now) override;
};

// Collects reports. Commits at goal_count reports, or at the deadline (or when
// nobody is left to report) with at least min_reports, setting ctx.result
// from the reports (PlainResult); otherwise abandons. Secure rounds collect
// "ready" devices the same way, then aggregate.
class ReportingState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kReporting; }
  absl::StatusOr<cohort::v1::Ack> HandleReport(
      RoundContext& ctx, const std::string& device_id,
      const cohort::v1::Report& report) override;
  absl::Status HandleReady(RoundContext& ctx, const std::string& device_id,
                           int64_t round_id,
                           std::shared_ptr<DeviceChannel> channel) override;
  std::unique_ptr<RoundState> ProceedToNext(RoundContext& ctx,
                                            absl::Time now) override;
};

// Buffered rounds (FedBuff; RoundOptions.buffered): assigns a device
// whenever fewer than `concurrency` hold an open assignment (not one that
// holds one, or whose update this buffer took), takes updates under the
// assignments of
// this and earlier buffers (ctx.in_flight, AcceptReport), and at goal_count
// updates commits them, or starts aggregating them securely, like a
// synchronous round. Assignments expire at their deadline (counted as
// timeouts); nothing times the buffer itself out.
class BufferingState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kBuffering; }
  CheckInOutcome HandleCheckIn(RoundContext& ctx,
                               const std::string& device_id) override;
  absl::StatusOr<cohort::v1::Ack> HandleReport(
      RoundContext& ctx, const std::string& device_id,
      const cohort::v1::Report& report) override;
  absl::Status HandleReady(RoundContext& ctx, const std::string& device_id,
                           int64_t round_id,
                           std::shared_ptr<DeviceChannel> channel) override;
  std::unique_ptr<RoundState> ProceedToNext(RoundContext& ctx,
                                            absl::Time now) override;
};

// Runs SecAgg+ over the ready devices (ctx.secagg), one deadline per phase.
// Completed: decodes the sum into ctx.result and commits. Aborted: abandons
// with the SecAgg+ phase, threshold and survivors as the reason, releasing
// no sum.
class AggregatingState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kAggregating; }
  void HandleDrop(RoundContext& ctx, const std::string& device_id) override;
  std::unique_ptr<RoundState> ProceedToNext(RoundContext& ctx,
                                            absl::Time now) override;
};

// The round has what it needs (ctx.result is set): a device leaving now is
// not a drop.
class CommittingState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kCommitting; }
  void HandleDrop(RoundContext& ctx, const std::string& device_id) override {}
};

class AbandonedState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kAbandoned; }
};

class FinishedState final : public RoundState {
 public:
  RoundPhase phase() const override { return RoundPhase::kFinished; }
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_STATE_H_
