#include "server/round/round_context.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/kill_point.h"
#include "common/model/running_statistics.h"
#include "common/model/weights_util.h"

namespace cohort::server {

void DropDevice(RoundContext& ctx, const std::string& device_id,
                int64_t DropCounts::*cause) {
  if (ctx.dropped.insert(device_id).second) ++(ctx.drops.*cause);
}

double StatisticsClipNorm(const ClippingOptions& clipping,
                          const cohort::v1::Weights& shared) {
  if (model::CountStatistics(shared) == 0) return 0.0;
  return clipping.statistics_clip_norm > 0
             ? clipping.statistics_clip_norm
             : model::DefaultStatisticsClipNorm(shared);
}

double EncodedBound(const RoundContext& ctx) {
  return model::EncodedUpdateBound(ctx.clip_norm, *ctx.shared);
}

double StatisticsUnits(const RoundContext& ctx) {
  return ctx.statistics_clip_norm > 0
             ? ctx.statistics_clip_norm / ctx.clip_norm
             : 1.0;
}

cohort::v1::TaskAssignment MakeAssignment(const RoundContext& ctx) {
  cohort::v1::TaskAssignment a;
  a.set_round_id(ctx.round_id);
  a.set_task(ctx.options->task);
  auto* ref = a.mutable_model();
  ref->set_version(ctx.model->version);
  ref->set_size_bytes(static_cast<int64_t>(ctx.model->bytes.size()));
  ref->set_sha256(ctx.model->sha256);
  ref->set_architecture(ctx.model->architecture);
  if (ctx.model->release > 0) *ref->mutable_manifest() = ctx.model->manifest;
  *a.mutable_plan() = ctx.options->plan;
  a.set_report_deadline_unix_ms(absl::ToUnixMillis(ctx.report_deadline));
  a.set_secure_aggregation(ctx.options->secagg.enabled);
  a.set_evaluate_before_training(ctx.options->field_min_reports > 0);
  a.set_clip_norm(ctx.clip_norm);
  a.set_statistics_clip_norm(ctx.statistics_clip_norm);
  return a;
}

cohort::v1::RetryWindow MakeRetry(const RoundContext& ctx, const char* cause,
                                  const std::string& reason) {
  cohort::v1::RetryWindow r;
  r.set_min_delay_ms(absl::ToInt64Milliseconds(ctx.options->retry_min));
  r.set_max_delay_ms(absl::ToInt64Milliseconds(ctx.options->retry_max));
  r.set_reason(reason);
  r.set_cause(cause);
  return r;
}

namespace {

// ABORTED unless `device_id` holds an assignment in this round that it has
// not used yet.
absl::Status CheckAssigned(const RoundContext& ctx, const std::string& device_id,
                           int64_t round_id) {
  if (!ctx.assigned.contains(device_id)) {
    return absl::AbortedError(absl::StrCat(
        "device '", device_id, "' is not assigned to round ", ctx.round_id));
  }
  if (round_id != ctx.round_id) {
    return absl::AbortedError(absl::StrCat("report is for round ", round_id,
                                           ", the open round is ", ctx.round_id));
  }
  if (ctx.reported.contains(device_id) || ctx.dropped.contains(device_id)) {
    return absl::AbortedError(
        absl::StrCat("device '", device_id, "' already reported"));
  }
  return absl::OkStatus();
}

// The device's claim on this round's aggregate: its synchronous assignment
// (CheckAssigned, weight 1 at the round's bound), or its buffered one.
absl::StatusOr<Admission> Admit(RoundContext& ctx, const std::string& device_id,
                                int64_t round_id) {
  if (ctx.in_flight == nullptr) {
    if (absl::Status s = CheckAssigned(ctx, device_id, round_id); !s.ok()) {
      return s;
    }
    return Admission{.clip_norm = ctx.clip_norm};
  }
  if (ctx.reported.contains(device_id)) {
    return absl::AbortedError(absl::StrCat(
        "device '", device_id, "' already reported into buffer ", ctx.round_id));
  }
  auto admission = ctx.in_flight->Admit(device_id, round_id, ctx.model->version);
  if (admission.status().code() == absl::StatusCode::kFailedPrecondition) {
    // Too stale to use: late, like a device still working at a deadline.
    ++ctx.drops.timeout;
  }
  if (admission.ok()) ctx.assigned.insert(device_id);
  return admission;
}

// Accumulates the validated report's delta, its trainable tensors and its
// running statistics (in update units) each clipped to the admitted bound
// (model::PrepareUpdate) and scaled by the admission's staleness weight,
// and says whether it was clipped, judged from the delta itself
// (Report.clipped is the device's word, which the coordinator does not
// need): a block at the bound (within float rounding) was clipped by its
// device, a longer one is clipped here (a copy).
absl::Status AccumulateClipped(RoundContext& ctx,
                               const cohort::v1::Report& report,
                               const Admission& admission, bool* clipped) {
  constexpr double kRounding = 1e-5;
  const double bound = admission.clip_norm;
  // Under differential privacy every device weighs 1: the noise is
  // calibrated to one clipped update.
  const int64_t weight =
      ctx.options->privacy.enabled ? 1 : report.num_examples();
  // Without statistics (their block is empty) this is the whole delta.
  const model::BlockNorms blocks = model::NormsOf(report.delta());
  const double norm = std::max(blocks.trainable, blocks.statistics);
  const bool too_long = norm > bound * (1 + kRounding);
  *clipped = too_long || norm >= bound * (1 - kRounding);
  if (!too_long && admission.scale == 1.0) {
    return ctx.aggregator->Accumulate(report.delta(), weight);
  }
  cohort::v1::Weights delta = report.delta();
  if (too_long) model::ClipEachBlock(&delta, bound);
  if (admission.scale != 1.0) {
    for (auto& t : *delta.mutable_tensors()) model::ScaleTensor(&t, admission.scale);
  }
  return ctx.aggregator->Accumulate(delta, weight);
}

}  // namespace

std::shared_ptr<const cohort::v1::Weights> SharedWeights(
    std::shared_ptr<const PublishedModel> version,
    const model::PersonalLayers& personal) {
  if (personal.empty()) {
    const cohort::v1::Weights* weights = &version->weights;
    return std::shared_ptr<const cohort::v1::Weights>(std::move(version),
                                                      weights);
  }
  return std::make_shared<const cohort::v1::Weights>(
      personal.Shared(version->weights));
}

absl::Status AcceptReady(RoundContext& ctx, const std::string& device_id,
                         int64_t round_id,
                         std::shared_ptr<DeviceChannel> channel) {
  if (!ctx.options->secagg.enabled) {
    return absl::InvalidArgumentError(
        "this task does not use secure aggregation; send a Report");
  }
  auto admission = Admit(ctx, device_id, round_id);
  if (!admission.ok()) return admission.status();
  ctx.reported.insert(device_id);
  ctx.ready_channels[device_id] = std::move(channel);
  if (ctx.in_flight != nullptr) ctx.update_scales[device_id] = admission->scale;
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::Ack> AcceptReport(RoundContext& ctx,
                                             const std::string& device_id,
                                             const cohort::v1::Report& report) {
  auto admission = Admit(ctx, device_id, report.round_id());
  if (!admission.ok()) return admission.status();
  if (ctx.options->secagg.enabled) {
    DropDevice(ctx, device_id, &DropCounts::malformed);
    return absl::InvalidArgumentError(
        "this task uses secure aggregation: plaintext reports are refused");
  }
  absl::Status valid = model::ValidateDelta(*ctx.shared, report.delta());
  if (valid.ok() && (report.num_examples() <= 0 ||
                     report.num_examples() >
                         ctx.options->max_examples_per_report)) {
    valid = absl::InvalidArgumentError(
        absl::StrCat("num_examples must be in [1, ",
                     ctx.options->max_examples_per_report, "], got ",
                     report.num_examples()));
  }
  if (valid.ok() && !std::isfinite(report.train_loss())) {
    valid = absl::InvalidArgumentError("train_loss is not finite");
  }
  bool clipped = false;
  if (valid.ok()) {
    valid = AccumulateClipped(ctx, report, *admission, &clipped);
  }
  if (!valid.ok()) {
    DropDevice(ctx, device_id, &DropCounts::malformed);
    return valid;
  }
  ctx.clipped += clipped ? 1 : 0;
  ctx.reported.insert(device_id);
  ctx.loss_sum += report.train_loss() * report.num_examples();
  cohort::v1::Ack ack;
  ack.set_round_id(ctx.round_id);
  ack.set_accepted(true);
  base::KillPoint("server.report");
  return ack;
}

absl::StatusOr<RoundResult> PlainResult(RoundContext& ctx) {
  // Read before MeanDelta consumes the aggregator.
  const int64_t examples = ctx.aggregator->total_examples();
  auto mean = std::move(*ctx.aggregator).MeanDelta(*ctx.shared);
  ctx.aggregator.reset();
  if (!mean.ok()) return mean.status();
  return RoundResult{
      .round_id = ctx.round_id,
      .parent = ctx.model,
      .mean_delta = *std::move(mean),
      .examples = examples,
      .participants = static_cast<int64_t>(ctx.reported.size()),
      .mean_loss = ctx.loss_sum / static_cast<double>(examples),
      .clipped = ctx.clipped,
      .field = std::nullopt,
  };
}

}  // namespace cohort::server
