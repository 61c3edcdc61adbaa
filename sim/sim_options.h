#ifndef COHORT_SIM_SIM_OPTIONS_H_
#define COHORT_SIM_SIM_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/config.pb.h"
#include "common/data/client_population.h"
#include "common/data/idx_reader.h"
#include "server/round/report_size.h"
#include "server/round/round_options.h"

namespace cohort::sim {

// SimConfig with defaults applied and values checked: everything cohort-sim
// reads from a scenario, read once by ResolveSimOptions. Defaults are the
// members' initializers, as in server::RoundOptions.
// PoisonConfig: in rounds [round, round + rounds) (1-based; round 0 =
// never) each reporting device poisons with probability `fraction`, sending
// `scale` times its update.
struct PoisonOptions {
  int round = 0;
  int rounds = 1;
  double fraction = 1.0;
  double scale = -20.0;
};

struct SimOptions {
  // The run folder is <output_dir>/<name>; name is a plain folder name.
  std::string name = "sim";
  std::string output_dir = "runs";
  // Zoo architecture, "mlp" or "small_cnn". Empty when torchscript_path is
  // set: the module names its own architecture.
  std::string architecture = "small_cnn";
  std::string torchscript_path;
  // Reports per round (the engine's goal_count), in [1, num_clients].
  int clients_per_round = 0;
  // Committed rounds to run (the engine's max_rounds).
  int rounds = 10;
  // Root of every seeded stream: data, devices, selection, training, the
  // initial weights and secure-aggregation rounding.
  uint64_t seed = 1;
  // Client training threads, in [1, 256]; results do not depend on it.
  int threads = 2;
  // Fashion-MNIST IDX files. Training uses at most train_examples examples
  // of the train split (data.max_examples, 0 = all); evaluation at most
  // holdout_examples of the test split (0 = all).
  std::string idx_dir = data::kDefaultFashionMnistDir;
  int64_t train_examples = 0;
  int64_t holdout_examples = 0;
  // Largest device message, as cohort-server's max_message_bytes.
  int64_t max_message_bytes = server::kDefaultMaxMessageBytes;
  // --transport=grpc only.
  cohort::v1::TlsConfig grpc_tls;
  // population, with seed = `seed`.
  data::PopulationSpec population;
  // devices, with its defaults applied (ms_per_example 2, links 20 / 5 Mbps,
  // always available).
  cohort::v1::DeviceProfileConfig devices;
  // round and plan, with goal_count = clients_per_round and
  // max_rounds = rounds.
  server::RoundOptions round;
  PoisonOptions poison;
  // Each client's local test split (sim/personalization.h), in [0, 0.9]:
  // 0.2 by default when the plan has personal layers, else 0 (none).
  double local_test_fraction = 0;
};

// The one resolver of SimConfig, run before any work starts. Returns
// INVALID_ARGUMENT, naming the field first, for impossible values
// (clients_per_round above the population, alpha <= 0, probabilities outside
// [0, 1], a poison fraction outside (0, 1] or a poison scale of 1 or not
// finite,
// [0, 1], mean_examples below population.min_examples, mean_examples or
// quantity_sigma set in layout SHARDS, negative counts, round.goal_count or
// round.max_rounds set to something other than clients_per_round / rounds,
// which set them), for data.use_test_split (it does not apply: the simulator
// trains on the train split and evaluates on the test split), and for
// anything server::ResolveRoundOptions refuses; NOT_FOUND naming
// data.idx_dir when the data set is missing. Whether the data can give every
// SHARDS client min_examples is checked when the population is built
// (data::ClientPopulation::Create). Resolving a resolved scenario
// (ResolveSimConfig's result) gives the same options.
absl::StatusOr<SimOptions> ResolveSimOptions(const cohort::v1::SimConfig& config);

// PopulationConfig as a data::PopulationSpec, field for field, seeded with
// `seed`; applies no defaults.
data::PopulationSpec PopulationSpecOf(const cohort::v1::PopulationConfig& p,
                                      uint64_t seed);

}  // namespace cohort::sim

#endif  // COHORT_SIM_SIM_OPTIONS_H_
