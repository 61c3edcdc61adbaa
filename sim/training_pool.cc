#include "sim/training_pool.h"

#include "glog/logging.h"

namespace cohort::sim {

TrainingPool::TrainingPool(int threads, size_t window)
    : window_(std::max<size_t>(window, 1)) {
  for (int i = 0; i < threads; ++i) {
    trainers_.push_back(client::LocalTrainer::CreateWithoutData());
  }
  for (auto& t : trainers_) {
    workers_.emplace_back([this, trainer = t.get()] { WorkerLoop(trainer); });
  }
}

TrainingPool::~TrainingPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& w : workers_) w.join();
}

void TrainingPool::Start(size_t num_jobs, Job job) {
  absl::MutexLock lock(&mu_);
  CHECK_EQ(taken_, num_jobs_) << "previous batch not fully taken";
  job_ = std::move(job);
  num_jobs_ = num_jobs;
  next_job_ = 0;
  taken_ = 0;
  ++batch_;
  results_.clear();
  results_.resize(num_jobs);
}

absl::StatusOr<cohort::v1::Report> TrainingPool::Take(size_t index) {
  absl::MutexLock lock(&mu_);
  CHECK_EQ(index, taken_) << "results must be taken in order";
  mu_.Await(absl::Condition(
      +[](std::optional<absl::StatusOr<cohort::v1::Report>>* r) {
        return r->has_value();
      },
      &results_[index]));
  absl::StatusOr<cohort::v1::Report> out = std::move(*results_[index]);
  results_[index].reset();
  ++taken_;
  return out;
}

void TrainingPool::WorkerLoop(client::LocalTrainer* trainer) {
  while (true) {
    size_t index;
    Job job;
    uint64_t batch;
    {
      absl::MutexLock lock(&mu_);
      // Wait for a job within the window, or for shutdown.
      mu_.Await(absl::Condition(
          +[](TrainingPool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return p->stopping_ ||
                   (p->next_job_ < p->num_jobs_ &&
                    p->next_job_ < p->taken_ + p->window_);
          },
          this));
      if (stopping_) return;
      index = next_job_++;
      job = job_;
      batch = batch_;
    }
    absl::StatusOr<cohort::v1::Report> result = job(index, *trainer);
    absl::MutexLock lock(&mu_);
    if (batch == batch_) results_[index] = std::move(result);
  }
}

}  // namespace cohort::sim
