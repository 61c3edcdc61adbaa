#ifndef COHORT_SIM_TRAINING_POOL_H_
#define COHORT_SIM_TRAINING_POOL_H_

#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/train/local_trainer.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::sim {

// Runs client work on a fixed set of worker threads, each with its own
// LocalTrainer, and hands the results back strictly in job order. Workers
// run at most `window` jobs ahead of the consumer, so memory holds a bounded
// number of updates whatever the round size. Results do not depend on the
// thread count because every job is a pure function of its inputs.
//
// One batch at a time: Start(), then Take(0), Take(1), ... Take(n-1). Take is
// called from one consumer thread.
class TrainingPool {
 public:
  using Job = std::function<absl::StatusOr<cohort::v1::Report>(
      size_t index, client::LocalTrainer& trainer)>;

  TrainingPool(int threads, size_t window);
  ~TrainingPool();

  void Start(size_t num_jobs, Job job);
  // Blocks until job `index` is done. Indices must be taken in order.
  absl::StatusOr<cohort::v1::Report> Take(size_t index);

 private:
  void WorkerLoop(client::LocalTrainer* trainer);

  const size_t window_;
  absl::Mutex mu_;
  Job job_ ABSL_GUARDED_BY(mu_);
  size_t num_jobs_ ABSL_GUARDED_BY(mu_) = 0;
  size_t next_job_ ABSL_GUARDED_BY(mu_) = 0;
  size_t taken_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t batch_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::optional<absl::StatusOr<cohort::v1::Report>>> results_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<client::LocalTrainer>> trainers_;
  std::vector<std::thread> workers_;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_TRAINING_POOL_H_
