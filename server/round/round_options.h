#ifndef COHORT_SERVER_ROUND_ROUND_OPTIONS_H_
#define COHORT_SERVER_ROUND_ROUND_OPTIONS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/model/personal_layers.h"
#include "common/secagg/field_encoding.h"
#include "common/secagg/secure_update.h"
#include "server/aggregation/privacy_options.h"
#include "server/aggregation/clip_bound.h"
#include "server/aggregation/robust_aggregator.h"
#include "server/aggregation/server_optimizer.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/config.pb.h"

namespace cohort::server {

// SecureAggregationConfig with defaults applied. The clip norm is the
// round's (RoundOptions.clipping, ClipBound).
struct SecAggOptions {
  // On when the config leaves it unset (ResolveRoundOptions); off in a
  // default-constructed value.
  bool enabled = false;
  int bits_per_coordinate = 16;
  bool rotate = false;
  int64_t example_cap = 1000;
  double expected_dropout = 0.1;
  double corrupt_fraction = 0.05;
  absl::Duration phase_timeout = absl::Seconds(60);
  // Devices per SecAgg+ instance; 0 = one instance (SecAggGroups).
  int max_group_size = 0;
  // Keys the per-round shuffle that deals devices into groups, so that no
  // device can choose its group by its id. The coordinator draws it from
  // OpenSSL at start-up; the simulator derives it from its seed, so its
  // runs repeat.
  std::array<uint8_t, 32> group_key{};
  // The field statistics devices add to their masked input: the image
  // layout when field monitoring is on, else disabled.
  secagg::FieldLayout field;
  // Distributed DP: the encoding every round uses (its rotation seed
  // aside), from PlanDistributedPrivacy; nullopt otherwise.
  std::optional<secagg::UpdateEncoding> distributed_encoding;
};

// BufferedConfig with defaults applied (FedBuff; buffer_ledger.h).
struct BufferedOptions {
  // Devices holding an assignment at once.
  int concurrency = 20;
  // Versions an update may lag the current one by.
  int max_staleness = 10;
  // a in the staleness weight (1 + staleness)^-a.
  double staleness_exponent = 0.5;
};

// RoundConfig with defaults applied and values checked.
struct RoundOptions {
  std::string task = "fashion_mnist";
  int goal_count = 10;
  double over_selection = 1.3;
  int min_reports = 10;
  absl::Duration selection_timeout = absl::Seconds(5);
  absl::Duration report_timeout = absl::Minutes(5);
  absl::Duration retry_min = absl::Seconds(1);
  absl::Duration retry_max = absl::Seconds(3);
  int max_rounds = 0;
  int64_t max_examples_per_report = 1000000;
  ServerOptimizerOptions server_optimizer;
  cohort::v1::TrainingPlan plan;
  // plan.personal_layers: the tensors devices keep (FedPer); the rounds
  // aggregate and the optimizer steps the others only.
  model::PersonalLayers personal;
  SecAggOptions secagg;
  ClippingOptions clipping;
  // Differential privacy; disabled by default.
  PrivacyOptions privacy;
  // A robust aggregator (plain rounds only); nullopt: FedAvg's mean.
  std::optional<RobustOptions> robust;
  // Devices download the int8 artifact (default) or fp32 weights.
  bool int8_artifacts = true;
  // GateConfig.max_accuracy_drop, as a fraction; unset: no gate.
  std::optional<double> gate_max_accuracy_drop;
  // FieldMonitorConfig: reports needed per version (0: off) and the drop
  // in mean field accuracy, as a fraction, that rolls back.
  int field_min_reports = 0;
  double field_max_accuracy_drop = 0.05;
  // Threads the coordinator adds updates and unmasks secure sums on
  // (FedAvgAggregator, SecAggServer): base::AvailableCores() once resolved,
  // every core; 1 in a default-constructed value.
  int threads = 1;
  // Buffered asynchronous rounds: goal_count is the buffer size K, and
  // over_selection is 1. nullopt: synchronous rounds.
  std::optional<BufferedOptions> buffered;

  // Devices assigned per round: ceil(goal_count * over_selection).
  int selection_target() const;
};

// Applies the documented defaults. INVALID_ARGUMENT, naming the field, for
// impossible values (goal_count < 1, over_selection < 1, min_reports outside
// [1, goal_count], negative timeouts, retry_min > retry_max, bad plan, a
// gate or field-monitor drop outside its range) and
// for secure-aggregation settings no round could run with, decided by
// secagg::ChooseParameters and secagg::PlanUpdateEncoding: a cohort that can
// be smaller than 2 devices (round.goal_count or round.min_reports below 2),
// an expected_dropout of secagg::kMaxPlannableDropout (0.5) or more, or an
// encoding whose modulus would not fit for selection_target() devices.
// Differential privacy is refused with what it cannot account for (a
// robust aggregator, field monitoring, an explicit example_cap), and with a
// budget its noise cannot keep (round_options_privacy.cc).
// cohort-server and cohort-sim both resolve through here, so neither starts
// a task whose every round would be abandoned.
absl::StatusOr<RoundOptions> ResolveRoundOptions(
    const std::string& task, const cohort::v1::RoundConfig& config,
    const cohort::v1::TrainingPlan& plan);

// Distributed DP's second step, once the model's dimension (float
// coordinates) is known: plans the SecAgg+ encoding
// (secagg::PlanDistributedEncoding) into o.secagg.distributed_encoding and
// its mechanism into o.privacy.distributed_mechanism, deriving the noise
// multiplier from the budget when it was not set. Nothing for other tasks.
// INVALID_ARGUMENT naming the field: bits_per_coordinate too few to hold the
// noise, a budget the noise cannot keep for the planned rounds, or one no
// noise multiplier up to 1e3 reaches.
absl::Status PlanDistributedPrivacy(RoundOptions& o, int64_t dimension);

// INVALID_ARGUMENT naming plan.personal_layers when o.personal does not fit
// `model` (model::PersonalLayers::Validate).
absl::Status CheckPersonalLayers(const RoundOptions& o,
                                 const cohort::v1::Weights& model);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_OPTIONS_H_
