#ifndef COHORT_SIM_RANKED_TRAINING_H_
#define COHORT_SIM_RANKED_TRAINING_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/sim.pb.h"
#include "sim/client_work.h"
#include "sim/personalization.h"
#include "sim/rank_channel.h"
#include "sim/training_pool.h"

namespace cohort::sim {

// A round's client training, split across the ranks of a run: client k of
// the round (in report order) trains on rank k mod size, rank 0's share on
// its own TrainingPool, every other rank's through ServeTrainingRank on
// that rank. Rank 0 keeps every client's personal layers and sends them
// with the batch, so a client may train on a different rank each round.
// Results come back in report order whatever the rank count, and each is
// the same pure function of its inputs (ClientWork), so a run is
// bit-identical at any number of ranks and threads.
//
// Used by the simulator's thread on rank 0 only; one batch at a time, as
// TrainingPool: Start, then Take(0) .. Take(n-1).
class RankedTraining {
 public:
  // Borrows `work`, `personalization` and `channel` (null: one process);
  // they must outlive this object. `threads` train rank 0's share.
  RankedTraining(int threads, const ClientWork* work,
                 Personalization* personalization, RankChannel* channel);

  // Whether other ranks train: Start's job must then carry the release's
  // bytes (SimTrainingBatch.model) for them.
  bool distributed() const { return channel_ != nullptr && channel_->size() > 1; }

  // Starts training `ids` (in report order) for `job` (its clients field
  // is ignored). Errors from sending the other ranks their batches.
  absl::Status Start(cohort::v1::SimTrainingBatch job, std::vector<int64_t> ids);
  // Client k's report or training error; blocks until it is there. INTERNAL
  // for a malformed or out-of-order result from another rank.
  absl::StatusOr<cohort::v1::Report> Take(size_t k);
  // Tells every other rank that the run is over (ServeTrainingRank
  // returns).
  absl::Status Stop();

 private:
  int ranks() const { return distributed() ? channel_->size() : 1; }
  absl::StatusOr<cohort::v1::Report> TakeRemote(size_t k);

  const ClientWork* const work_;
  Personalization* const personalization_;
  RankChannel* const channel_;
  TrainingPool pool_;
  // The current batch: its job (without clients) and its ids.
  std::shared_ptr<const cohort::v1::SimTrainingBatch> job_;
  std::shared_ptr<const std::vector<int64_t>> ids_;
};

// The loop of every rank but 0: receives a batch from rank 0, trains its
// clients on `pool` (ClientWork with `seed` and `poison`, the release's
// bytes from the batch), sends a SimClientResult per client in the batch's
// order, and returns OK when rank 0 says stop. `personalization` takes each
// client's kept layers from the batch before training. INTERNAL for a
// malformed batch; errors from the channel.
absl::Status ServeTrainingRank(RankChannel& channel, uint64_t seed,
                               const PoisonOptions& poison,
                               Personalization& personalization,
                               TrainingPool& pool);

// A rank other than 0 of a cohort-sim run: loads the clients' data from
// `config` (resolved, the same as rank 0's) and serves rank 0's batches
// until it says stop. Errors from loading and from ServeTrainingRank.
absl::Status RunTrainingRank(const cohort::v1::SimConfig& config,
                             RankChannel& channel);

}  // namespace cohort::sim

#endif  // COHORT_SIM_RANKED_TRAINING_H_
