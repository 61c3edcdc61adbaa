#ifndef COHORT_SIM_CLIENT_WORK_H_
#define COHORT_SIM_CLIENT_WORK_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "client/train/local_trainer.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/sim.pb.h"
#include "sim/personalization.h"
#include "sim/sim_options.h"

namespace cohort::sim {

// What one virtual client does between its download and its upload, on
// whichever thread or MPI rank trains it: fetch the release and check it
// against the assignment's reference, put its own personal layers back
// (FedPer), evaluate the release on its data when asked (field
// monitoring), train (LocalTrainer, seeded by (seed, client id, round)),
// keep its personal layers, and (a poisoning client in a poisoned round)
// scale its delta unclipped. The result is a pure function of the job, the
// client id, the seed and the layers the client kept, so it does not depend
// on where it runs.
//
// Train is thread-safe: the fetch function must be too.
class ClientWork {
 public:
  // The release's bytes for `ref` (the transport's FetchModel, or the bytes
  // rank 0 sent with the batch).
  using Fetch =
      std::function<absl::StatusOr<std::string>(const cohort::v1::ModelRef&)>;

  // Borrows `personalization`, which must outlive this object.
  ClientWork(uint64_t seed, PoisonOptions poison,
             Personalization* personalization, Fetch fetch)
      : seed_(seed),
        poison_(poison),
        personalization_(personalization),
        fetch_(std::move(fetch)) {}

  // Client `id`'s report for `job` (SimTrainingBatch's job fields; its
  // model and clients are not read). Errors from the download, the
  // release check (the assignment's hash and size) and the trainer.
  absl::StatusOr<cohort::v1::Report> Train(
      const cohort::v1::SimTrainingBatch& job, int64_t id,
      client::LocalTrainer& trainer) const;

 private:
  // Whether client `id` poisons in the poisoned rounds (seeded).
  bool Poisons(int64_t id) const;

  const uint64_t seed_;
  const PoisonOptions poison_;
  Personalization* const personalization_;
  const Fetch fetch_;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_CLIENT_WORK_H_
