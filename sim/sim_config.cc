#include "sim/sim_config.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/textproto.h"
#include "common/data/idx_reader.h"
#include "server/round/round_options.h"

namespace cohort::sim {
namespace {

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsProbability(double p) { return p >= 0.0 && p <= 1.0; }

absl::Status ResolveDevices(cohort::v1::DeviceProfileConfig* d) {
  if (d->ms_per_example() == 0) d->set_ms_per_example(2.0);
  if (d->downlink_mbps() == 0) d->set_downlink_mbps(20.0);
  if (d->uplink_mbps() == 0) d->set_uplink_mbps(5.0);
  if (d->availability_period_s() == 0) d->set_availability_period_s(86400);
  if (d->availability_window_s() == 0) {
    d->set_availability_window_s(d->availability_period_s());
  }
  if (!(d->ms_per_example() > 0) || !std::isfinite(d->ms_per_example())) {
    return Bad("devices.ms_per_example", "must be > 0");
  }
  if (d->speed_sigma() < 0 || d->speed_sigma() > 5) {
    return Bad("devices.speed_sigma", "must be in [0, 5]");
  }
  if (!(d->downlink_mbps() > 0)) return Bad("devices.downlink_mbps", "must be > 0");
  if (!(d->uplink_mbps() > 0)) return Bad("devices.uplink_mbps", "must be > 0");
  if (!IsProbability(d->dropout_after_checkin())) {
    return Bad("devices.dropout_after_checkin", "must be in [0, 1]");
  }
  if (!IsProbability(d->dropout_during_training())) {
    return Bad("devices.dropout_during_training", "must be in [0, 1]");
  }
  if (!IsProbability(d->dropout_during_upload())) {
    return Bad("devices.dropout_during_upload", "must be in [0, 1]");
  }
  if (!IsProbability(d->secagg_dropout_after_keys())) {
    return Bad("devices.secagg_dropout_after_keys", "must be in [0, 1]");
  }
  if (!IsProbability(d->secagg_dropout_after_shares())) {
    return Bad("devices.secagg_dropout_after_shares", "must be in [0, 1]");
  }
  if (!IsProbability(d->secagg_dropout_after_masked_input())) {
    return Bad("devices.secagg_dropout_after_masked_input", "must be in [0, 1]");
  }
  if (!(d->availability_period_s() > 0)) {
    return Bad("devices.availability_period_s", "must be > 0");
  }
  if (!(d->availability_window_s() > 0) ||
      d->availability_window_s() > d->availability_period_s()) {
    return Bad("devices.availability_window_s",
               "must be in (0, availability_period_s]");
  }
  return absl::OkStatus();
}

// Defaults and the checks that need the proto (which fields were set).
absl::Status ResolvePopulation(cohort::v1::PopulationConfig* p) {
  using Config = cohort::v1::PopulationConfig;
  const bool shards = p->layout() == Config::SHARDS;
  if (p->alpha() == 0 && p->partition() != Config::DIRICHLET) {
    p->set_alpha(0.5);
  }
  if (p->labels_per_client() == 0) p->set_labels_per_client(2);
  if (p->mean_examples() == 0 && !shards) p->set_mean_examples(60);
  if (p->min_examples() == 0) p->set_min_examples(data::kDefaultMinExamples);
  if (p->num_clients() < 1) {
    return Bad("population.num_clients", "must be >= 1");
  }
  if (p->partition() == Config::DIRICHLET && !(p->alpha() > 0)) {
    return Bad("population.alpha", "must be > 0");
  }
  if (shards && p->mean_examples() != 0) {
    return Bad("population.mean_examples",
               "must be unset in layout SHARDS: the split sets the counts");
  }
  if (shards && p->quantity_sigma() != 0) {
    return Bad("population.quantity_sigma",
               "must be unset in layout SHARDS: the split sets the counts");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<cohort::v1::SimConfig> LoadSimConfig(const std::string& path) {
  cohort::v1::SimConfig config;
  COHORT_RETURN_IF_ERROR(base::LoadTextProtoFile(path, &config));
  return config;
}

data::PopulationSpec ToPopulationSpec(const cohort::v1::SimConfig& c) {
  data::PopulationSpec spec;
  const auto& p = c.population();
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
  spec.seed = c.seed();
  return spec;
}

absl::StatusOr<cohort::v1::SimConfig> ResolveSimConfig(
    cohort::v1::SimConfig c) {
  if (c.name().empty()) c.set_name("sim");
  if (c.output_dir().empty()) c.set_output_dir("runs");
  // An imported module names its own architecture (its chain spec); the
  // resolved config must not claim the zoo default for it.
  // torchscript_path overrides architecture, as in ServerConfig.
  if (!c.torchscript_path().empty()) {
    c.clear_architecture();
  } else if (c.architecture().empty()) {
    c.set_architecture("small_cnn");
  }
  if (c.rounds() == 0) c.set_rounds(10);
  if (c.seed() == 0) c.set_seed(1);
  if (c.threads() == 0) c.set_threads(2);
  if (c.data().idx_dir().empty()) {
    c.mutable_data()->set_idx_dir(data::kDefaultFashionMnistDir);
  }

  if (c.name().find('/') != std::string::npos || c.name() == "." ||
      c.name() == "..") {
    return Bad("name", "must be a plain folder name");
  }
  COHORT_RETURN_IF_ERROR(ResolvePopulation(c.mutable_population()));
  COHORT_RETURN_IF_ERROR(
      data::ValidatePopulationSpec(ToPopulationSpec(c), /*num_classes=*/10));
  const int64_t num_clients = c.population().num_clients();
  if (c.clients_per_round() < 1) return Bad("clients_per_round", "must be >= 1");
  if (c.clients_per_round() > num_clients) {
    return Bad("clients_per_round", absl::StrCat(
        "is ", c.clients_per_round(), ", larger than population.num_clients (",
        num_clients, ")"));
  }
  if (c.rounds() < 0) return Bad("rounds", "must be >= 1");
  if (c.threads() < 1 || c.threads() > 256) return Bad("threads", "must be in [1, 256]");
  if (c.holdout_examples() < 0) return Bad("holdout_examples", "must be >= 0");
  if (c.torchscript_path().empty() && c.architecture() != "mlp" &&
      c.architecture() != "small_cnn") {
    return Bad("architecture", "must be \"mlp\" or \"small_cnn\"");
  }
  auto* round = c.mutable_round();
  round->set_goal_count(c.clients_per_round());
  round->set_max_rounds(c.rounds());
  if (absl::Status s =
          server::ResolveRoundOptions("sim", *round, c.plan()).status();
      !s.ok()) {
    // The scenario sets round.goal_count through clients_per_round.
    if (!absl::StartsWith(s.message(), "round.goal_count")) return s;
    return absl::Status(s.code(), absl::StrCat("clients_per_round (as ",
                                               s.message(), ")"));
  }
  COHORT_RETURN_IF_ERROR(ResolveDevices(c.mutable_devices()));

  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    std::error_code ec;
    if (!std::filesystem::exists(c.data().idx_dir() + "/" + f, ec)) {
      return absl::NotFoundError(absl::StrCat(
          "data.idx_dir: ", c.data().idx_dir(), " has no ", f,
          " (install dataset-fashion-mnist or point idx_dir at the IDX files)"));
    }
  }
  return c;
}

}  // namespace cohort::sim
