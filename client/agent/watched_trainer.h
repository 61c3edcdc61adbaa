#ifndef COHORT_CLIENT_AGENT_WATCHED_TRAINER_H_
#define COHORT_CLIENT_AGENT_WATCHED_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/agent/agent_options.h"
#include "client/train/trainer.h"
#include "common/base/clock.h"
#include "common/base/service_monitor.h"
#include "common/base/service_notify.h"
#include "common/base/step_monitor.h"

namespace cohort::client {

// A Trainer that records each training run and evaluation as a step of a
// base::StepMonitor, so the agent's watchdog sees local work that overstays.
// That is the agent's one unbounded wait: every RPC has a deadline and
// keepalive, and waits between rounds are bounded by the server's retry
// window, but a LibTorch (OpenMP, oneDNN) hang would block the loop forever.
//  - Training is due by the round's report deadline plus kTrainingGrace:
//    LocalTrainer checks the deadline between batches, and one batch at idle
//    CPU priority on a busy machine can take minutes.
//  - An evaluation (field monitoring) is due kMaxEvaluation after it starts.
//
// Train and Evaluate are called as on the wrapped trainer (one thread);
// Check and Describe from any thread. Borrows the trainer and the clock.
class WatchedTrainer final : public Trainer {
 public:
  static constexpr absl::Duration kTrainingGrace = absl::Minutes(30);
  static constexpr absl::Duration kMaxEvaluation = absl::Minutes(30);

  WatchedTrainer(Trainer* inner, base::Clock* clock)
      : inner_(inner), clock_(clock), steps_(clock) {}

  // The wrapped trainer's results and codes, unchanged.
  absl::StatusOr<LocalUpdate> Train(const std::string& architecture,
                                    const cohort::v1::Weights& start,
                                    const cohort::v1::TrainingPlan& plan,
                                    uint64_t seed, absl::Time deadline,
                                    const StopCheck& should_stop) override;
  absl::StatusOr<LocalEvaluation> Evaluate(
      const std::string& architecture,
      const cohort::v1::Weights& weights) override;
  int64_t num_examples() const override { return inner_->num_examples(); }
  int64_t examples_added() const override { return inner_->examples_added(); }

  // OK unless a run is overdue (DEADLINE_EXCEEDED naming it).
  absl::Status Check() const { return steps_.Check(); }
  // "training since ..., due by ..." or "idle; N steps done".
  std::string Describe() const { return steps_.Describe(); }

 private:
  Trainer* const inner_;
  base::Clock* const clock_;
  base::StepMonitor steps_;
};

// Tells the service manager the agent is set up: READY=1 with a status line
// naming the device, its examples and the coordinator, then a
// ServiceMonitor over `trainer` (null when no service manager listens). Call
// after set-up succeeded, before Agent::Run; destroy the monitor when Run
// returns, before base::NotifyStopping. Borrows the notifier and the trainer
// for the monitor's lifetime.
std::unique_ptr<base::ServiceMonitor> NotifyAgentRunning(
    base::ServiceNotifier& notifier, const AgentOptions& options,
    const WatchedTrainer& trainer);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_WATCHED_TRAINER_H_
