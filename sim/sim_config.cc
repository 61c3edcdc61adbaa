#include "sim/sim_config.h"

#include "common/base/status_macros.h"
#include "common/base/textproto.h"
#include "sim/sim_options.h"

namespace cohort::sim {
namespace {

// Writes back the resolved values the run folder's config.textproto has
// always recorded. SimOptions is the truth; this is only its record.
cohort::v1::SimConfig RecordOf(cohort::v1::SimConfig c, const SimOptions& o) {
  c.set_name(o.name);
  c.set_output_dir(o.output_dir);
  c.set_architecture(o.architecture);
  c.set_rounds(o.rounds);
  c.set_seed(o.seed);
  c.set_threads(o.threads);
  c.mutable_data()->set_idx_dir(o.idx_dir);
  auto* p = c.mutable_population();
  p->set_alpha(o.population.alpha);
  p->set_labels_per_client(o.population.labels_per_client);
  p->set_mean_examples(o.population.mean_examples);
  p->set_min_examples(o.population.min_examples);
  *c.mutable_devices() = o.devices;
  c.mutable_round()->set_goal_count(o.round.goal_count);
  c.mutable_round()->set_max_rounds(o.round.max_rounds);
  c.set_local_test_fraction(o.local_test_fraction);
  return c;
}

}  // namespace

absl::StatusOr<cohort::v1::SimConfig> LoadSimConfig(const std::string& path) {
  cohort::v1::SimConfig config;
  COHORT_RETURN_IF_ERROR(base::LoadTextProtoFile(path, &config));
  return config;
}

data::PopulationSpec ToPopulationSpec(const cohort::v1::SimConfig& c) {
  return PopulationSpecOf(c.population(), c.seed());
}

absl::StatusOr<cohort::v1::SimConfig> ResolveSimConfig(
    cohort::v1::SimConfig c) {
  COHORT_ASSIGN_OR_RETURN(SimOptions options, ResolveSimOptions(c));
  return RecordOf(std::move(c), options);
}

}  // namespace cohort::sim
