#include "sim/client_data.h"

#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"

namespace cohort::sim {

absl::StatusOr<std::unique_ptr<ClientData>> ClientData::Load(
    const SimOptions& o, data::ImageDataset* holdout) {
  auto d = std::make_unique<ClientData>();
  COHORT_ASSIGN_OR_RETURN(
      d->train, data::LoadFashionMnist(o.idx_dir, false, o.train_examples));
  COHORT_ASSIGN_OR_RETURN(
      *holdout, data::LoadFashionMnist(o.idx_dir, true, o.holdout_examples));
  COHORT_ASSIGN_OR_RETURN(d->population,
                          data::ClientPopulation::Create(o.population, &d->train));
  COHORT_ASSIGN_OR_RETURN(
      d->personalization,
      Personalization::Create(d->population.get(), *holdout,
                              o.local_test_fraction, o.round.personal));
  return d;
}

}  // namespace cohort::sim
