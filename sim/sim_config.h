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
// [0, 1], ...); NOT_FOUND naming data.idx_dir when the data set is missing.
absl::StatusOr<cohort::v1::SimConfig> ResolveSimConfig(
    cohort::v1::SimConfig config);

// The population part of a resolved config.
data::PopulationSpec ToPopulationSpec(const cohort::v1::SimConfig& config);

}  // namespace cohort::sim

#endif  // COHORT_SIM_SIM_CONFIG_H_
