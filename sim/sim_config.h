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

// Fills in documented defaults and checks every field, before any work
// starts. INVALID_ARGUMENT naming the field for impossible values
// (clients_per_round above the population, alpha <= 0, probabilities outside
// [0, 1], mean_examples below population.min_examples, mean_examples or
// quantity_sigma set in layout SHARDS, ...); NOT_FOUND naming data.idx_dir
// when the data set is missing. Whether the data can give every SHARDS
// client min_examples is checked when the population is built
// (data::ClientPopulation::Create, INVALID_ARGUMENT naming
// population.min_examples or population.num_clients).
absl::StatusOr<cohort::v1::SimConfig> ResolveSimConfig(
    cohort::v1::SimConfig config);

// The population part of a resolved config. In layout SHARDS,
// data::ShardPartitionOf() of it is the split agents compute from
// PartitionConfig{partition, num_shards = num_clients, alpha, min_examples,
// seed = config.seed()}.
data::PopulationSpec ToPopulationSpec(const cohort::v1::SimConfig& config);

}  // namespace cohort::sim

#endif  // COHORT_SIM_SIM_CONFIG_H_
