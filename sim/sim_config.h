#ifndef COHORT_SIM_SIM_CONFIG_H_
#define COHORT_SIM_SIM_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/config.pb.h"
#include "common/data/client_population.h"

namespace cohort::sim {

// Reads a scenario textproto. Unknown fields and syntax errors are
// INVALID_ARGUMENT naming the field; a missing file is NOT_FOUND.
absl::StatusOr<cohort::v1::SimConfig> LoadSimConfig(const std::string& path);

// The scenario as ResolveSimOptions (sim_options.h, the one resolver)
// resolves it, for the run folder's config.textproto: the input with the
// resolved name, output_dir, architecture (empty for a TorchScript module),
// rounds, seed, threads, data.idx_dir, population and devices defaults, and
// round.goal_count / round.max_rounds set from clients_per_round / rounds.
// Fails exactly as ResolveSimOptions does.
absl::StatusOr<cohort::v1::SimConfig> ResolveSimConfig(
    cohort::v1::SimConfig config);

// The population part of a resolved config (PopulationSpecOf its
// population and seed). In layout SHARDS,
// data::ShardPartitionOf() of it is the split agents compute from
// PartitionConfig{partition, num_shards = num_clients, alpha, min_examples,
// seed = config.seed()}.
data::PopulationSpec ToPopulationSpec(const cohort::v1::SimConfig& config);

}  // namespace cohort::sim

#endif  // COHORT_SIM_SIM_CONFIG_H_
