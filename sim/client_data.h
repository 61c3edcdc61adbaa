#ifndef COHORT_SIM_CLIENT_DATA_H_
#define COHORT_SIM_CLIENT_DATA_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/data/client_population.h"
#include "common/data/dataset.h"
#include "sim/personalization.h"
#include "sim/sim_options.h"

namespace cohort::sim {

// The virtual clients' data: the train split, the population partitioned
// over it and each client's local test split and kept layers. Every rank of
// a run loads the same from the same options (seeded), so any rank can
// train any client.
struct ClientData {
  data::ImageDataset train;
  // Borrows `train`.
  std::unique_ptr<data::ClientPopulation> population;
  // Borrows `population`.
  std::unique_ptr<Personalization> personalization;

  // Loads o.idx_dir's splits (the holdout into `holdout`, which the
  // coordinator's evaluation uses) and builds the rest. Errors from the IDX
  // reader and the partitioner.
  static absl::StatusOr<std::unique_ptr<ClientData>> Load(
      const SimOptions& o, data::ImageDataset* holdout);
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_CLIENT_DATA_H_
