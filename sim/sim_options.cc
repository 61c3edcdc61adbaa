#include "sim/sim_options.h"

#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/field_error.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"
#include "server/round/task_model.h"

namespace cohort::sim {
namespace {

using base::FieldError;

bool IsProbability(double p) { return p >= 0.0 && p <= 1.0; }

void ApplyDeviceDefaults(cohort::v1::DeviceProfileConfig* d) {
  if (d->ms_per_example() == 0) d->set_ms_per_example(2.0);
  if (d->downlink_mbps() == 0) d->set_downlink_mbps(20.0);
  if (d->uplink_mbps() == 0) d->set_uplink_mbps(5.0);
  if (d->availability_period_s() == 0) d->set_availability_period_s(86400);
  if (d->availability_window_s() == 0) {
    d->set_availability_window_s(d->availability_period_s());
  }
}

absl::Status CheckDropouts(const cohort::v1::DeviceProfileConfig& d) {
  const std::pair<const char*, double> rates[] = {
      {"devices.dropout_after_checkin", d.dropout_after_checkin()},
      {"devices.dropout_during_training", d.dropout_during_training()},
      {"devices.dropout_during_upload", d.dropout_during_upload()},
      {"devices.secagg_dropout_after_keys", d.secagg_dropout_after_keys()},
      {"devices.secagg_dropout_after_shares", d.secagg_dropout_after_shares()},
      {"devices.secagg_dropout_after_masked_input",
       d.secagg_dropout_after_masked_input()},
  };
  for (const auto& [field, p] : rates) {
    if (!IsProbability(p)) return FieldError(field, "must be in [0, 1]");
  }
  return absl::OkStatus();
}

absl::Status ResolveDevices(const cohort::v1::DeviceProfileConfig& config,
                            SimOptions& o) {
  cohort::v1::DeviceProfileConfig d = config;
  ApplyDeviceDefaults(&d);
  if (!(d.ms_per_example() > 0) || !std::isfinite(d.ms_per_example())) {
    return FieldError("devices.ms_per_example", "must be > 0");
  }
  if (d.speed_sigma() < 0 || d.speed_sigma() > 5) {
    return FieldError("devices.speed_sigma", "must be in [0, 5]");
  }
  if (!(d.downlink_mbps() > 0)) return FieldError("devices.downlink_mbps", "must be > 0");
  if (!(d.uplink_mbps() > 0)) return FieldError("devices.uplink_mbps", "must be > 0");
  COHORT_RETURN_IF_ERROR(CheckDropouts(d));
  if (!(d.availability_period_s() > 0)) {
    return FieldError("devices.availability_period_s", "must be > 0");
  }
  if (!(d.availability_window_s() > 0) ||
      d.availability_window_s() > d.availability_period_s()) {
    return FieldError("devices.availability_window_s",
                      "must be in (0, availability_period_s]");
  }
  o.devices = std::move(d);
  return absl::OkStatus();
}

// Defaults and the checks that need the proto (which fields were set); the
// rest is data::ValidatePopulationSpec's.
absl::Status ResolvePopulation(const cohort::v1::PopulationConfig& config,
                               SimOptions& o) {
  using Config = cohort::v1::PopulationConfig;
  Config p = config;
  const bool shards = p.layout() == Config::SHARDS;
  // DIRICHLET has no default alpha: its concentration is the scenario.
  if (p.alpha() == 0 && p.partition() != Config::DIRICHLET) p.set_alpha(0.5);
  if (p.labels_per_client() == 0) p.set_labels_per_client(2);
  if (p.mean_examples() == 0 && !shards) p.set_mean_examples(60);
  if (p.min_examples() == 0) p.set_min_examples(data::kDefaultMinExamples);
  if (p.num_clients() < 1) return FieldError("population.num_clients", "must be >= 1");
  if (p.partition() == Config::DIRICHLET && !(p.alpha() > 0)) {
    return FieldError("population.alpha", "must be > 0");
  }
  if (shards && p.mean_examples() != 0) {
    return FieldError("population.mean_examples",
                      "must be unset in layout SHARDS: the split sets the counts");
  }
  if (shards && p.quantity_sigma() != 0) {
    return FieldError("population.quantity_sigma",
                      "must be unset in layout SHARDS: the split sets the counts");
  }
  o.population = PopulationSpecOf(p, o.seed);
  return data::ValidatePopulationSpec(o.population, /*num_classes=*/10);
}

// name, output_dir, the model, rounds, seed and threads.
absl::Status ResolveRun(const cohort::v1::SimConfig& c, SimOptions& o) {
  if (!c.name().empty()) o.name = c.name();
  if (!c.output_dir().empty()) o.output_dir = c.output_dir();
  // The record must not claim the zoo default for an imported module.
  o.torchscript_path = c.torchscript_path();
  o.architecture = server::ZooArchitecture(c.torchscript_path(),
                                           c.architecture(), o.architecture);
  if (c.rounds() != 0) o.rounds = c.rounds();
  if (c.seed() != 0) o.seed = c.seed();
  if (c.threads() != 0) o.threads = c.threads();
  if (o.name.find('/') != std::string::npos || o.name == "." || o.name == "..") {
    return FieldError("name", "must be a plain folder name");
  }
  return absl::OkStatus();
}

absl::Status CheckRunCounts(const cohort::v1::SimConfig& c, SimOptions& o) {
  if (c.clients_per_round() < 1) return FieldError("clients_per_round", "must be >= 1");
  if (c.clients_per_round() > o.population.num_clients) {
    return FieldError("clients_per_round", absl::StrCat(
        "is ", c.clients_per_round(), ", larger than population.num_clients (",
        o.population.num_clients, ")"));
  }
  o.clients_per_round = c.clients_per_round();
  if (o.rounds < 0) return FieldError("rounds", "must be >= 1");
  if (o.threads < 1 || o.threads > 256) return FieldError("threads", "must be in [1, 256]");
  if (c.holdout_examples() < 0) return FieldError("holdout_examples", "must be >= 0");
  o.holdout_examples = c.holdout_examples();
  if (o.torchscript_path.empty() && o.architecture != "mlp" &&
      o.architecture != "small_cnn") {
    return FieldError("architecture", "must be \"mlp\" or \"small_cnn\"");
  }
  return absl::OkStatus();
}

// clients_per_round and rounds set the engine's goal_count and max_rounds; a
// scenario that sets those too, differently, would be ignored, so it is
// refused. (ResolveSimConfig's record sets them equal.)
absl::Status ResolveRound(const cohort::v1::SimConfig& c, SimOptions& o) {
  cohort::v1::RoundConfig round = c.round();
  if (round.goal_count() != 0 && round.goal_count() != o.clients_per_round) {
    return FieldError("round.goal_count",
                      "is set by clients_per_round; remove it");
  }
  if (round.max_rounds() != 0 && round.max_rounds() != o.rounds) {
    return FieldError("round.max_rounds", "is set by rounds; remove it");
  }
  round.set_goal_count(o.clients_per_round);
  round.set_max_rounds(o.rounds);
  // The simulated population is the one differential privacy samples from.
  auto* dp = round.mutable_differential_privacy();
  if (dp->mechanism() != cohort::v1::DifferentialPrivacyConfig::MECHANISM_NONE &&
      dp->population_size() == 0) {
    dp->set_population_size(o.population.num_clients);
  }
  auto resolved = server::ResolveRoundOptions("sim", round, c.plan());
  if (!resolved.ok()) {
    const absl::Status& s = resolved.status();
    if (!absl::StartsWith(s.message(), "round.goal_count")) return s;
    return absl::Status(s.code(), absl::StrCat("clients_per_round (as ",
                                               s.message(), ")"));
  }
  o.round = *std::move(resolved);
  // Noise drawn from the run's seed, so a run repeats exactly.
  if (o.round.privacy.enabled) o.round.privacy.noise_seed = o.seed;
  // SecAgg groups dealt from the seed too.
  o.round.secagg.group_key =
      crypto::Sha256(absl::StrCat("cohort-sim secagg groups|", o.seed));
  return absl::OkStatus();
}

// data, max_message_bytes and grpc_tls.
absl::Status ResolveData(const cohort::v1::SimConfig& c, SimOptions& o) {
  if (c.data().use_test_split()) {
    return FieldError("data.use_test_split",
                      "does not apply: the simulator trains on the train "
                      "split and evaluates on the test split; remove the field");
  }
  if (c.data().max_examples() < 0) {
    return FieldError("data.max_examples", "must be >= 0 (0 = all)");
  }
  o.train_examples = c.data().max_examples();
  if (c.max_message_bytes() < 0) {
    return FieldError("max_message_bytes", "must be >= 0 (0 = 16 MiB)");
  }
  if (c.max_message_bytes() > 0) o.max_message_bytes = c.max_message_bytes();
  o.grpc_tls = c.grpc_tls();
  if (!c.data().idx_dir().empty()) o.idx_dir = c.data().idx_dir();
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    std::error_code ec;
    if (!std::filesystem::exists(o.idx_dir + "/" + f, ec)) {
      return absl::NotFoundError(absl::StrCat(
          "data.idx_dir: ", o.idx_dir, " has no ", f,
          " (install dataset-fashion-mnist or point idx_dir at the IDX files)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ResolvePoison(const cohort::v1::PoisonConfig& p, SimOptions& o) {
  if (p.round() < 0) return base::FieldError("poison.round", "must be >= 0");
  o.poison.round = p.round();
  if (p.rounds() < 0) return base::FieldError("poison.rounds", "must be >= 0");
  if (p.rounds() != 0) o.poison.rounds = p.rounds();
  if (p.fraction() != 0) o.poison.fraction = p.fraction();
  if (p.scale() != 0) o.poison.scale = p.scale();
  if (!(o.poison.fraction > 0 && o.poison.fraction <= 1)) {
    return base::FieldError("poison.fraction", "must be in (0, 1]");
  }
  if (!std::isfinite(o.poison.scale) || o.poison.scale == 1) {
    return base::FieldError("poison.scale",
                            "must be a finite number other than 1");
  }
  return absl::OkStatus();
}

// After ResolveRound: the default depends on the plan's personal layers.
absl::Status ResolveLocalTest(const cohort::v1::SimConfig& c, SimOptions& o) {
  constexpr double kPersonalDefault = 0.2;
  o.local_test_fraction = c.has_local_test_fraction() ? c.local_test_fraction()
                          : o.round.personal.empty() ? 0.0
                                                     : kPersonalDefault;
  if (!(o.local_test_fraction >= 0 && o.local_test_fraction <= 0.9)) {
    return FieldError("local_test_fraction", "must be in [0, 0.9]");
  }
  return absl::OkStatus();
}

}  // namespace

data::PopulationSpec PopulationSpecOf(const cohort::v1::PopulationConfig& p,
                                      uint64_t seed) {
  data::PopulationSpec spec;
  spec.num_clients = p.num_clients();
  spec.layout = p.layout() == cohort::v1::PopulationConfig::SHARDS
                    ? data::PopulationLayout::kShards
                    : data::PopulationLayout::kSampled;
  switch (p.partition()) {
    case cohort::v1::PopulationConfig::DIRICHLET:
      spec.scheme = data::PartitionScheme::kDirichlet;
      break;
    case cohort::v1::PopulationConfig::LABEL_SHARDS:
      spec.scheme = data::PartitionScheme::kLabelShards;
      break;
    default:
      spec.scheme = data::PartitionScheme::kIid;
  }
  spec.alpha = p.alpha();
  spec.labels_per_client = p.labels_per_client();
  spec.mean_examples = p.mean_examples();
  spec.quantity_sigma = p.quantity_sigma();
  spec.min_examples = p.min_examples();
  spec.seed = seed;
  return spec;
}

absl::StatusOr<SimOptions> ResolveSimOptions(const cohort::v1::SimConfig& c) {
  SimOptions o;
  COHORT_RETURN_IF_ERROR(ResolveRun(c, o));
  COHORT_RETURN_IF_ERROR(ResolvePopulation(c.population(), o));
  COHORT_RETURN_IF_ERROR(CheckRunCounts(c, o));
  COHORT_RETURN_IF_ERROR(ResolveRound(c, o));
  COHORT_RETURN_IF_ERROR(ResolveDevices(c.devices(), o));
  COHORT_RETURN_IF_ERROR(ResolveData(c, o));
  COHORT_RETURN_IF_ERROR(ResolvePoison(c.poison(), o));
  COHORT_RETURN_IF_ERROR(ResolveLocalTest(c, o));
  return o;
}

}  // namespace cohort::sim
