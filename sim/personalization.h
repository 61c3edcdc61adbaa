#ifndef COHORT_SIM_PERSONALIZATION_H_
#define COHORT_SIM_PERSONALIZATION_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/train/local_trainer.h"
#include "cohort/v1/model.pb.h"
#include "common/data/client_population.h"
#include "common/model/personal_layers.h"

namespace cohort::sim {

// A client's examples cut into what it trains on and its local test split:
// the last round(n * fraction) of `examples` (at least 1 when fraction > 0
// and n >= 2; none when n < 2), never all of them.
struct LocalSplit {
  std::vector<int64_t> train;
  std::vector<int64_t> test;
};
LocalSplit SplitLocalTest(std::vector<int64_t> examples, double fraction);

// Accuracy on clients' local test splits, example-weighted; NaN when no
// client has a local test example (or, for `personalized`, when the task
// has no personal layers).
struct LocalAccuracy {
  int64_t clients = 0;
  int64_t examples = 0;
  // The global model as released.
  double global = std::numeric_limits<double>::quiet_NaN();
  // Each client's personalized model: the global shared layers with the
  // personal layers it kept (the global ones if it has kept none yet).
  double personalized = std::numeric_limits<double>::quiet_NaN();
};

// One client's row of personalization.csv.
struct ClientAccuracy {
  int64_t id = 0;
  int64_t examples = 0;
  double global = 0;
  // NaN without personal layers.
  double personalized = std::numeric_limits<double>::quiet_NaN();
};

// The example-weighted accuracies of `rows`.
LocalAccuracy Summarize(std::span<const ClientAccuracy> rows);

// personalization.csv: a header line, then one line per row (accuracies
// with 6 significant digits, "nan" for a personalized accuracy without
// personal layers).
std::string PersonalizationCsv(const std::vector<ClientAccuracy>& rows);

// The simulator's side of FedPer (TrainingPlan.personal_layers) and of
// personalized evaluation (SimConfig.local_test_fraction): each client's
// local test examples, which no client trains on, and the personal layers
// each client keeps between rounds, in memory (what an agent keeps in its
// state directory).
//
// Local test examples. Layout SHARDS: the last `fraction` of the client's
// shard (SplitLocalTest), held out of its training data; shards are
// disjoint, so no other client holds them. Layout SAMPLED, where clients
// draw from one shared pool and an example of one client is likely in
// another's: drawn instead from the holdout (the test split) the same way
// the client's training examples are drawn from the train split, with the
// same label proportions (same seed and client id), mean_examples *
// fraction / (1 - fraction) of them (at least 1); the client trains on all
// its examples.
//
// Keep() and KeptOf() are thread-safe (pool threads train clients in
// parallel; a client is trained by one job per round, so the result does
// not depend on the thread count). The rest is const or called from the
// simulator's thread.
class Personalization {
 public:
  // Borrows `population`, which must outlive this object; copies
  // `holdout` when the layout is SAMPLED and local_test_fraction > 0.
  // INVALID_ARGUMENT if the holdout cannot hold such a population (a label
  // the client's scheme can draw has no holdout example).
  static absl::StatusOr<std::unique_ptr<Personalization>> Create(
      const data::ClientPopulation* population,
      const data::ImageDataset& holdout, double local_test_fraction,
      model::PersonalLayers personal);

  const model::PersonalLayers& personal() const { return personal_; }
  bool evaluates() const { return fraction_ > 0; }

  // What client `id` trains on, how many examples that is, and its local
  // test examples (empty without local tests).
  data::ImageDataset TrainDataOf(int64_t id) const;
  int64_t NumTrainExamplesOf(int64_t id) const;
  data::ImageDataset LocalTestOf(int64_t id) const;

  // The personal tensors client `id` kept after its last training (empty
  // before its first) and the new ones it keeps.
  cohort::v1::Weights KeptOf(int64_t id) const ABSL_LOCKS_EXCLUDED(mu_);
  void Keep(int64_t id, cohort::v1::Weights personal) ABSL_LOCKS_EXCLUDED(mu_);

  // Every client that kept personal layers, or (without personal layers)
  // trained, in id order.
  std::vector<int64_t> Trained() const ABSL_LOCKS_EXCLUDED(mu_);

  // Evaluates `clients` on their local test splits, each with the global
  // model (`architecture`, `global`) and its personalized model, on
  // `trainer`; appends a row per client to `rows` when it is not null.
  // Errors from the trainer.
  absl::StatusOr<LocalAccuracy> Evaluate(
      const std::vector<int64_t>& clients, const std::string& architecture,
      const cohort::v1::Weights& global, client::LocalTrainer& trainer,
      std::vector<ClientAccuracy>* rows = nullptr) const;

 private:
  Personalization(const data::ClientPopulation* population, double fraction,
                  model::PersonalLayers personal)
      : population_(population),
        fraction_(fraction),
        personal_(std::move(personal)) {}
  // SHARDS: the client's examples split for local testing.
  bool splits() const { return fraction_ > 0 && local_tests_ == nullptr; }
  LocalSplit SplitOf(int64_t id) const;

  const data::ClientPopulation* const population_;
  const double fraction_;
  // SAMPLED: local test examples drawn from the holdout.
  data::ImageDataset holdout_;
  std::unique_ptr<data::ClientPopulation> local_tests_;
  const model::PersonalLayers personal_;
  mutable absl::Mutex mu_;
  std::map<int64_t, cohort::v1::Weights> kept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_PERSONALIZATION_H_
