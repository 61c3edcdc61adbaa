#ifndef COHORT_SERVER_ROUND_ROUND_CONTEXT_H_
#define COHORT_SERVER_ROUND_ROUND_CONTEXT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "server/aggregation/update_aggregator.h"
#include "server/round/buffer_ledger.h"
#include "server/round/device_channel.h"
#include "server/round/published_model.h"
#include "server/round/round_metrics.h"
#include "server/round/round_options.h"
#include "server/round/round_outcome.h"
#include "server/round/round_result.h"
#include "server/round/secagg_groups.h"

namespace cohort::server {

// What a check-in gets: work, or a time to come back.
using CheckInOutcome =
    std::variant<cohort::v1::TaskAssignment, cohort::v1::RetryWindow>;

// Data of one round, shared by its states. Owned by the RoundEngine and only
// touched under the engine's mutex; a state receives it by reference and hands
// it on to the next state.
struct RoundContext {
  const RoundOptions* options = nullptr;
  int64_t round_id = 0;
  std::shared_ptr<const PublishedModel> model;
  // What the round's updates are laid out like: model->weights' shared
  // tensors (RoundOptions.personal; all of them without personal layers).
  std::shared_ptr<const cohort::v1::Weights> shared;
  absl::Time started;
  absl::Time selection_deadline;
  absl::Time report_deadline;
  // The L2 bound this round's updates are clipped to (ClipBound).
  double clip_norm = 0.0;
  // The bound of the running statistics in their own units
  // (model/running_statistics.h); 0 when `shared` has none.
  double statistics_clip_norm = 0.0;

  // Buffered rounds (options->buffered): the devices assigned while this
  // buffer was open, and those whose update it took (assigned in any
  // buffer); `reported`, `dropped` and `drops` are this buffer's.
  std::set<std::string> assigned;
  std::set<std::string> reported;
  // Assigned devices that sent a bad report or went away before reporting
  // (add them with DropDevice, which counts the cause).
  std::set<std::string> dropped;
  // Devices missing from the aggregate, by cause (round_metrics.h).
  DropCounts drops;
  // Set by the state that abandons the round.
  std::optional<AbandonReason> abandon;
  // Plain rounds: the accepted reports, consumed by PlainResult.
  std::unique_ptr<UpdateAggregator> aggregator;
  // Example-weighted sum of the reported train losses.
  double loss_sum = 0.0;
  // Plain rounds: accepted updates that were clipped, by the device or
  // here.
  int64_t clipped = 0;

  // Secure aggregation (options->secagg.enabled). `reported` holds the
  // devices that finished training; their streams wait here for the cohort.
  std::map<std::string, std::shared_ptr<DeviceChannel>> ready_channels;
  std::shared_ptr<SecAggGroups> secagg;

  // Buffered rounds: the task's open assignments, shared by every buffer's
  // context (null for synchronous rounds), and under secure aggregation
  // each ready device's staleness weight (SecAggBegin.update_scale).
  std::shared_ptr<BufferLedger> in_flight;
  std::map<std::string, double> update_scales;

  // What the round hands to its commit, plain or secure alike. Set by the
  // state that moves the round to Committing; the engine takes it from
  // there.
  std::optional<RoundResult> result;

  // Devices that can still report.
  int64_t outstanding() const {
    return static_cast<int64_t>(assigned.size()) -
           static_cast<int64_t>(reported.size()) -
           static_cast<int64_t>(dropped.size());
  }
};

// Adds an assigned device to ctx.dropped and, if it was not there yet,
// counts `cause` (one of &DropCounts::disconnect, ::malformed, ...).
void DropDevice(RoundContext& ctx, const std::string& device_id,
                int64_t DropCounts::*cause);

// The statistics bound of a round of `shared` weights: 0 without running
// statistics, else the configured one or model::DefaultStatisticsClipNorm.
double StatisticsClipNorm(const ClippingOptions& clipping,
                          const cohort::v1::Weights& shared);

// The L2 bound of the round's updates in update units
// (model::EncodedUpdateBound): what SecAgg+'s grid and the DP noise are
// sized for.
double EncodedBound(const RoundContext& ctx);

// S / C: turns the statistics of an aggregate in update units back into
// their own units; 1 when the round has no statistics.
double StatisticsUnits(const RoundContext& ctx);

// Builds the TaskAssignment for `ctx`'s round.
cohort::v1::TaskAssignment MakeAssignment(const RoundContext& ctx);

// A RetryWindow from the configured bounds. `cause` is one of
// RetryWindow.cause's words (coordinator.proto); `reason` is for people.
cohort::v1::RetryWindow MakeRetry(const RoundContext& ctx, const char* cause,
                                  const std::string& reason);

// Validates, clips and aggregates one report. A delta longer than
// ctx.clip_norm (a device that did not clip) is scaled down to it here; a
// delta that is not finite is refused first, so clipping never makes a bad
// update valid. Return codes: ABORTED for a device not
// assigned to this round, a wrong round id or a second report (the message is
// ignored; the device should check in again); INVALID_ARGUMENT for a malformed
// update or a num_examples outside [1, max_examples_per_report] (the device is
// dropped from the round and counted in drops.malformed). On success the
// device counts as reported.
// Buffered rounds take the device's open assignment from ctx.in_flight
// instead (BufferLedger::Admit: ABORTED without one, FAILED_PRECONDITION,
// counted in drops.timeout, for a version too stale or rolled back), clip
// to the bound it was assigned with and scale the delta by its staleness
// weight, so the buffer's mean is sum(n_i s_i delta_i) / sum(n_i).
absl::StatusOr<cohort::v1::Ack> AcceptReport(RoundContext& ctx,
                                             const std::string& device_id,
                                             const cohort::v1::Report& report);

// RoundContext::shared for a round training from `version`: its weights
// without `personal`'s tensors, or (without personal layers) an alias of
// version->weights that copies nothing.
std::shared_ptr<const cohort::v1::Weights> SharedWeights(
    std::shared_ptr<const PublishedModel> version,
    const model::PersonalLayers& personal);

// Plain rounds: the RoundResult of the accepted reports, from ctx.model.
// Consumes ctx.aggregator. FAILED_PRECONDITION if no update was accepted;
// INVALID_ARGUMENT if the model's layout differs from the aggregator's.
absl::StatusOr<RoundResult> PlainResult(RoundContext& ctx);

// Secure rounds: a device finished training and waits for the cohort on
// `channel`. Codes: INVALID_ARGUMENT when the task does not use secure
// aggregation; ABORTED and FAILED_PRECONDITION as for AcceptReport. On
// success the device counts as reported (and, buffered, its staleness
// weight is kept in ctx.update_scales).
absl::Status AcceptReady(RoundContext& ctx, const std::string& device_id,
                         int64_t round_id,
                         std::shared_ptr<DeviceChannel> channel);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_CONTEXT_H_
