#include "server/round/round_options.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/field_error.h"
#include "common/base/parallel_for.h"
#include "common/base/status_macros.h"
#include "common/secagg/parameter_finder.h"
#include "common/secagg/secure_update.h"
#include "server/round/round_options_internal.h"

namespace cohort::server {
namespace internal {

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return base::FieldError(field, why);
}

absl::Status Fraction(const char* field, double value, bool closed,
                      double* out) {
  if (value == 0) return absl::OkStatus();
  const bool ok = closed ? (value > 0 && value <= 1) : (value > 0 && value < 1);
  if (!ok) return Bad(field, closed ? "must be in (0, 1]" : "must be in (0, 1)");
  *out = value;
  return absl::OkStatus();
}

}  // namespace internal

using internal::Bad;
using internal::Fraction;

int RoundOptions::selection_target() const {
  return static_cast<int>(std::ceil(goal_count * over_selection - 1e-9));
}

namespace {

absl::Duration Ms(int64_t v, absl::Duration def) {
  return v == 0 ? def : absl::Milliseconds(v);
}

// goal_count, over_selection, min_reports and the per-report bounds.
absl::Status ResolveCounts(const cohort::v1::RoundConfig& c, RoundOptions& o) {
  if (c.goal_count() < 0) return Bad("round.goal_count", "must be >= 1");
  if (c.goal_count() > 0) o.goal_count = c.goal_count();
  if (c.over_selection() != 0) {
    if (!(c.over_selection() >= 1.0) || c.over_selection() > 10.0) {
      return Bad("round.over_selection", "must be in [1, 10]");
    }
    o.over_selection = c.over_selection();
  }
  o.min_reports = c.min_reports() == 0 ? o.goal_count : c.min_reports();
  if (o.min_reports < 1 || o.min_reports > o.goal_count) {
    return Bad("round.min_reports", "must be in [1, goal_count]");
  }
  if (c.max_rounds() < 0) return Bad("round.max_rounds", "must be >= 0");
  o.max_rounds = c.max_rounds();
  if (c.max_examples_per_report() < 0) {
    return Bad("round.max_examples_per_report", "must be >= 1");
  }
  if (c.max_examples_per_report() > 0) {
    o.max_examples_per_report = c.max_examples_per_report();
  }
  return absl::OkStatus();
}

absl::Status ResolveTimes(const cohort::v1::RoundConfig& c, RoundOptions& o) {
  if (c.selection_timeout_ms() < 0 || c.report_timeout_ms() < 0 ||
      c.retry_min_ms() < 0 || c.retry_max_ms() < 0) {
    return Bad("round", "timeouts must not be negative");
  }
  o.selection_timeout = Ms(c.selection_timeout_ms(), o.selection_timeout);
  o.report_timeout = Ms(c.report_timeout_ms(), o.report_timeout);
  o.retry_min = Ms(c.retry_min_ms(), o.retry_min);
  o.retry_max = Ms(c.retry_max_ms(), o.retry_max);
  if (o.retry_min > o.retry_max) {
    return Bad("round.retry_min_ms", "must not exceed retry_max_ms");
  }
  return absl::OkStatus();
}

absl::Status ResolveServerOptimizer(const cohort::v1::RoundConfig& c,
                                    RoundOptions& o) {
  using Kind = ServerOptimizerOptions::Kind;
  ServerOptimizerOptions& s = o.server_optimizer;
  switch (c.server_optimizer()) {
    case cohort::v1::RoundConfig::FEDADAM: s.kind = Kind::kFedAdam; break;
    case cohort::v1::RoundConfig::FEDYOGI: s.kind = Kind::kFedYogi; break;
    case cohort::v1::RoundConfig::FEDADAGRAD: s.kind = Kind::kFedAdagrad; break;
    case cohort::v1::RoundConfig::FEDAVG:
    case cohort::v1::RoundConfig::SERVER_OPTIMIZER_DEFAULT:
      s.kind = Kind::kFedAvg;
      break;
    default:
      return Bad("round.server_optimizer",
                 absl::StrCat("unknown value ", c.server_optimizer()));
  }
  const bool adaptive = s.kind != Kind::kFedAvg;
  if (!(c.server_momentum() >= 0 && c.server_momentum() < 1)) {
    return Bad("round.server_momentum", "must be in [0, 1)");
  }
  if (adaptive && c.server_momentum() != 0) {
    return Bad("round.server_momentum",
               "applies to FEDAVG only; the adaptive optimizers have "
               "server_beta1");
  }
  s.momentum = c.server_momentum();
  s.learning_rate = adaptive ? 0.01 : 1.0;
  if (c.server_learning_rate() != 0) {
    if (!(c.server_learning_rate() > 0 && c.server_learning_rate() <= 10)) {
      return Bad("round.server_learning_rate", "must be in (0, 10]");
    }
    s.learning_rate = c.server_learning_rate();
  }
  if (!adaptive) {
    for (auto [field, value] : {std::pair{"round.server_beta1", c.server_beta1()},
                                {"round.server_beta2", c.server_beta2()},
                                {"round.server_tau", c.server_tau()}}) {
      if (value != 0) {
        return Bad(field, "applies to FEDADAM, FEDYOGI and FEDADAGRAD only");
      }
    }
    return absl::OkStatus();
  }
  if (s.kind == Kind::kFedAdagrad && c.server_beta2() != 0) {
    return Bad("round.server_beta2", "FEDADAGRAD has no second-moment decay");
  }
  COHORT_RETURN_IF_ERROR(
      Fraction("round.server_beta1", c.server_beta1(), false, &s.beta1));
  COHORT_RETURN_IF_ERROR(
      Fraction("round.server_beta2", c.server_beta2(), false, &s.beta2));
  return Fraction("round.server_tau", c.server_tau(), true, &s.tau);
}

// The encoding fields of SecureAggregationConfig.
absl::Status ResolveSecAggEncoding(
    const cohort::v1::SecureAggregationConfig& sa, RoundOptions& o) {
  if (sa.bits_per_coordinate() != 0) {
    if (sa.bits_per_coordinate() < 2 || sa.bits_per_coordinate() > 30) {
      return Bad("round.secure_aggregation.bits_per_coordinate",
                 "must be in [2, 30]");
    }
    o.secagg.bits_per_coordinate = sa.bits_per_coordinate();
  }
  if (sa.clip_norm() != 0) {
    return Bad("round.secure_aggregation.clip_norm",
               "moved to round.clipping.clip_norm, which bounds plain rounds "
               "too");
  }
  o.secagg.rotate = sa.rotate();
  o.secagg.example_cap = std::min<int64_t>(o.max_examples_per_report, 1000);
  if (sa.example_cap() != 0) {
    if (sa.example_cap() < 1 || sa.example_cap() > 1000000000) {
      return Bad("round.secure_aggregation.example_cap", "must be in [1, 1e9]");
    }
    o.secagg.example_cap = sa.example_cap();
  }
  return absl::OkStatus();
}

// The protocol fields of SecureAggregationConfig.
absl::Status ResolveSecAggProtocol(
    const cohort::v1::SecureAggregationConfig& sa, RoundOptions& o) {
  o.secagg.enabled = !sa.has_enabled() || sa.enabled();
  auto rate = [](double v) { return v >= 0 && v < 1; };
  if (sa.expected_dropout() != 0) {
    if (!rate(sa.expected_dropout())) {
      return Bad("round.secure_aggregation.expected_dropout", "must be in [0, 1)");
    }
    o.secagg.expected_dropout = sa.expected_dropout();
  }
  if (sa.corrupt_fraction() != 0) {
    if (!rate(sa.corrupt_fraction())) {
      return Bad("round.secure_aggregation.corrupt_fraction", "must be in [0, 1)");
    }
    o.secagg.corrupt_fraction = sa.corrupt_fraction();
  }
  if (sa.phase_timeout_ms() < 0) {
    return Bad("round.secure_aggregation.phase_timeout_ms", "must be >= 0");
  }
  o.secagg.phase_timeout = Ms(sa.phase_timeout_ms(), o.secagg.phase_timeout);
  if (sa.max_group_size() != 0 && sa.max_group_size() < secagg::kMinGroupSize) {
    return Bad("round.secure_aggregation.max_group_size",
               absl::StrCat("must be 0 (one SecAgg+ instance) or at least ",
                            secagg::kMinGroupSize,
                            ", so that every group holds 2 devices"));
  }
  o.secagg.max_group_size = sa.max_group_size();
  return absl::OkStatus();
}

// A secure round runs SecAgg+ over the devices that finished training:
// between min_reports and goal_count of them. secagg::ChooseParameters is
// the one rule for which cohorts the protocol serves, and it serves every
// size >= 2 once it serves one, so the smallest cohort decides for all. The
// encoding's modulus grows with the cohort, so it is planned for the
// largest. Without this check such a task abandons every round.
absl::Status CheckSecureCohorts(const RoundOptions& o) {
  if (!o.secagg.enabled) return absl::OkStatus();
  const SecAggOptions& s = o.secagg;
  if (o.goal_count < 2 || o.min_reports < 2) {
    const bool goal = o.goal_count < 2;
    return Bad(goal ? "round.goal_count" : "round.min_reports",
               absl::StrCat(
                   "is ", goal ? o.goal_count : o.min_reports,
                   ", but secure aggregation needs a cohort of at least 2 "
                   "devices (SecAgg+ masks cancel only between devices, and "
                   "the sum of one device is its update); set it to 2 or "
                   "more, or choose plain FedAvg with "
                   "round.secure_aggregation { enabled: false }"));
  }
  auto params = secagg::ChooseParameters(o.min_reports, s.expected_dropout,
                                         s.corrupt_fraction);
  if (!params.ok()) {
    return Bad(params.status().code() == absl::StatusCode::kFailedPrecondition
                   ? "round.secure_aggregation.expected_dropout"
                   : "round.min_reports",
               std::string(params.status().message()));
  }
  // The largest SecAgg+ instance any cohort size can make: the encoding's
  // modulus grows with it.
  const int largest = s.max_group_size == 0
                          ? o.selection_target()
                          : std::min(s.max_group_size, o.selection_target());
  auto encoding = secagg::PlanUpdateEncoding(
      s.bits_per_coordinate, o.clipping.clip_norm, s.rotate,
      /*rotation_seed=*/0, s.example_cap, /*dimension=*/1, largest);
  if (!encoding.ok()) {
    return Bad("round.secure_aggregation",
               absl::StrCat("no update encoding for ", largest,
                            " devices: ", encoding.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ResolvePlan(const cohort::v1::TrainingPlan& plan,
                         RoundOptions& o) {
  o.plan = plan;
  if (o.plan.qat() == cohort::v1::TrainingPlan::QAT_DEFAULT) {
    o.plan.set_qat(o.int8_artifacts ? cohort::v1::TrainingPlan::QAT_ON
                                    : cohort::v1::TrainingPlan::QAT_OFF);
  }
  if (o.plan.epochs() == 0) o.plan.set_epochs(1);
  if (o.plan.batch_size() == 0) o.plan.set_batch_size(32);
  if (o.plan.learning_rate() == 0) o.plan.set_learning_rate(0.05f);
  if (o.plan.epochs() < 0 || o.plan.epochs() > 1000) {
    return Bad("plan.epochs", "must be in [1, 1000]");
  }
  if (o.plan.batch_size() < 0 || o.plan.batch_size() > 65536) {
    return Bad("plan.batch_size", "must be in [1, 65536]");
  }
  if (!(o.plan.learning_rate() > 0) || !std::isfinite(o.plan.learning_rate())) {
    return Bad("plan.learning_rate", "must be a positive number");
  }
  if (o.plan.momentum() < 0 || o.plan.momentum() >= 1) {
    return Bad("plan.momentum", "must be in [0, 1)");
  }
  if (!(o.plan.proximal_mu() >= 0) || !std::isfinite(o.plan.proximal_mu())) {
    return Bad("plan.proximal_mu", "must be finite and >= 0");
  }
  // Each step scales w - w_start by (1 - learning_rate * mu) besides the
  // loss's gradient: at 1 or more it overshoots and diverges.
  if (o.plan.proximal_mu() * o.plan.learning_rate() >= 1) {
    return Bad("plan.proximal_mu",
               absl::StrCat("times plan.learning_rate must be below 1, got ",
                            o.plan.proximal_mu() * o.plan.learning_rate()));
  }
  // Checked against the model where the task is assembled
  // (CheckPersonalLayers).
  o.personal = model::PersonalLayersOf(o.plan);
  return absl::OkStatus();
}

absl::Status ResolveReleasePolicy(const cohort::v1::RoundConfig& c,
                                  RoundOptions& o) {
  if (c.gate().has_max_accuracy_drop()) {
    const double drop = c.gate().max_accuracy_drop();
    if (!(drop >= 0 && drop <= 1)) {
      return Bad("round.gate.max_accuracy_drop", "must be in [0, 1]");
    }
    o.gate_max_accuracy_drop = drop;
  }
  const cohort::v1::FieldMonitorConfig& f = c.field_monitor();
  if (f.min_reports() < 0) {
    return Bad("round.field_monitor.min_reports", "must be >= 0 (0 = off)");
  }
  o.field_min_reports = f.min_reports();
  // Secure rounds sum the field statistics with the updates.
  if (o.field_min_reports > 0) o.secagg.field = secagg::ImageFieldLayout();
  if (f.max_accuracy_drop() != 0) {
    o.field_max_accuracy_drop = f.max_accuracy_drop();
  }
  if (!(o.field_max_accuracy_drop > 0 && o.field_max_accuracy_drop <= 1)) {
    return Bad("round.field_monitor.max_accuracy_drop", "must be in (0, 1]");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPersonalLayers(const RoundOptions& o,
                                 const cohort::v1::Weights& model) {
  absl::Status s = o.personal.Validate(model);
  if (s.ok()) return s;
  return Bad("plan.personal_layers", s.message());
}

absl::StatusOr<RoundOptions> ResolveRoundOptions(
    const std::string& task, const cohort::v1::RoundConfig& c,
    const cohort::v1::TrainingPlan& plan) {
  RoundOptions o;
  if (!task.empty()) o.task = task;
  COHORT_RETURN_IF_ERROR(ResolveCounts(c, o));
  COHORT_RETURN_IF_ERROR(ResolveTimes(c, o));
  COHORT_RETURN_IF_ERROR(ResolveServerOptimizer(c, o));
  COHORT_RETURN_IF_ERROR(internal::ResolveClipping(c.clipping(), o));
  COHORT_RETURN_IF_ERROR(ResolveSecAggEncoding(c.secure_aggregation(), o));
  COHORT_RETURN_IF_ERROR(ResolveSecAggProtocol(c.secure_aggregation(), o));
  COHORT_RETURN_IF_ERROR(internal::ResolveAggregator(c, o));
  COHORT_RETURN_IF_ERROR(internal::ResolveBuffered(c, o));
  COHORT_RETURN_IF_ERROR(CheckSecureCohorts(o));
  o.int8_artifacts = c.artifact_format() != cohort::v1::RoundConfig::ARTIFACT_FP32;
  COHORT_RETURN_IF_ERROR(ResolvePlan(plan, o));
  COHORT_RETURN_IF_ERROR(ResolveReleasePolicy(c, o));
  COHORT_RETURN_IF_ERROR(internal::ResolvePrivacy(c, o));
  o.threads = base::AvailableCores();
  return o;
}

}  // namespace cohort::server
