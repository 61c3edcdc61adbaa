#ifndef COHORT_CLIENT_AGENT_AGENT_H_
#define COHORT_CLIENT_AGENT_AGENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/agent/agent_counters.h"
#include "client/agent/agent_options.h"
#include "client/agent/device_identity.h"
#include "client/agent/model_cache.h"
#include "client/agent/personal_store.h"
#include "client/agent/release_guard.h"
#include "client/agent/work_gate.h"
#include "client/train/trainer.h"
#include "client/transport/transport.h"
#include "cohort/v1/config.pb.h"
#include "common/base/error_once.h"
#include "common/base/random.h"

namespace cohort::client {

// The device daemon's main loop: check in, take an assignment or a
// RetryWindow, download and verify the model, train locally, upload the
// delta, repeat. Backs off with jitter on retryable errors and stops cleanly
// when `stop` is notified.
//
// Counts what it does in an AgentCounters and, when
// options.metrics_textfile is set, writes them there after every check-in
// cycle and when Run returns.
//
// A WorkGate decides when it may work: before each check-in (an ineligible
// device or a spent budget does not check in; it waits
// eligibility.recheck_interval and counts a refusal), before each model
// download (the download budget), and during training (a device rule that
// stops holding abandons the round: nothing is reported). Training also
// stops at budgets.max_round_time after the assignment.
//
// Run() is called once from one thread; Cancel() may be called from any
// thread (the signal thread) to abort the call in flight.
class Agent {
 public:
  // `guard` (null: no pinned root) checks every assigned model's release
  // before a byte of it is used. `counters` (null: the agent keeps its own)
  // must outlive the agent. `gate` null: WorkGate::ForDevice(options).
  Agent(const AgentOptions& options,
        std::unique_ptr<CoordinatorTransport> transport, Trainer* trainer,
        absl::Notification* stop, std::unique_ptr<ReleaseGuard> guard = nullptr,
        AgentCounters* counters = nullptr,
        std::unique_ptr<WorkGate> gate = nullptr);

  // OK after a stop request or max_rounds reports. UNAUTHENTICATED when the
  // server's certificate is not trusted, or when the transport's Diagnose()
  // finds a TLS mistake of the device's own after an UNAVAILABLE failure;
  // FAILED_PRECONDITION when the server refuses the check-in itself (wrong
  // population, bad identity). None is retried. Everything else is retried
  // with backoff.
  absl::Status Run();

  // Cancels the call in flight, if any.
  void Cancel() { transport_->CancelAll(); }

  // Hears every model the agent has verified and taken for a round, with
  // its release (0: unsigned) already recorded: the local API's model
  // follows it. `weights` are fp32 (an int8 artifact dequantized;
  // `int8_artifact` says so), with the device's own personal layers when
  // the plan has them (FedPer): the model the device trains from. Called on the agent's thread, before
  // training; set before Run.
  using ModelListener = std::function<void(
      const cohort::v1::ModelRef& ref, const cohort::v1::Weights& weights,
      int64_t release, bool int8_artifact)>;
  void set_model_listener(ModelListener listener) {
    model_listener_ = std::move(listener);
  }

  // An enrolled device's certificate keeper (borrowed; null: the
  // certificate is the operator's to replace), asked before every
  // check-in. Set before Run.
  void set_identity_keeper(IdentityKeeper* keeper) { keeper_ = keeper; }

  int64_t rounds_reported() const { return rounds_reported_; }
  const AgentCounters& counters() const { return *counters_; }

 private:
  // Run's loop; Run writes the counters once more when it returns.
  absl::Status RunLoop();
  // One Participate conversation, if the gate admits one. Returns how long
  // to wait before the next.
  absl::StatusOr<absl::Duration> ParticipateOnce();
  // The check-in's answer, counted: an error (a refusal becomes
  // FAILED_PRECONDITION), a retry delay, or nullopt for an assignment.
  absl::StatusOr<std::optional<absl::Duration>> Answered(
      const absl::StatusOr<cohort::v1::ServerMessage>& reply);
  // DoAssignment, with how the round ended counted.
  absl::StatusOr<absl::Duration> JoinRound(
      ParticipationSession& session,
      const cohort::v1::TaskAssignment& assignment);
  // Sets the model version gauge and writes the counters to
  // options_.metrics_textfile, if set. A failed write is logged once per
  // distinct error until the next success, never fatal.
  void PublishCounters();
  // The round's local update: the model from the cache or the server,
  // trained until the report deadline. ABORTED (check in again) once the
  // deadline has passed, before or during training: nothing is reported.
  // ABORTED too when the guard refuses the model's release: the device
  // keeps what it holds and checks in again later.
  // The assignment's model, its release checked by the guard (if any) and
  // its bytes by the cache; the guard then records the release as held.
  absl::StatusOr<cohort::v1::Weights> StartingModel(
      const cohort::v1::TaskAssignment& assignment);
  // The model from the cache, or downloaded if the download budget allows
  // (ABORTED, counted as a budget refusal, if not).
  absl::StatusOr<cohort::v1::Weights> CachedOrFetched(
      const cohort::v1::TaskAssignment& assignment);
  // ABORTED, counted: the round's time ran out before or during training.
  // The report deadline (`report_deadline` passed) or, before it,
  // budgets.max_round_time.
  absl::Status OutOfTime(int64_t round, absl::Time report_deadline);
  // ABORTED, counted as ineligible: `lost` stopped training.
  absl::Status Abandoned(int64_t round, const absl::Status& lost);
  // The assigned model on the device's examples (field monitoring), or
  // nullopt when it cannot be evaluated (logged; the round goes on).
  std::optional<cohort::v1::FieldEvaluation> EvaluateAssigned(
      const cohort::v1::TaskAssignment& assignment,
      const cohort::v1::Weights& weights);
  // The field evaluation a check-in carries (CheckIn.field_evaluation): of
  // the held model, when it came from a plain round that asked for field
  // evaluations, at most once per options_.field_report_interval; nullopt
  // otherwise or when the model is no longer cached or cannot be
  // evaluated.
  std::optional<cohort::v1::FieldEvaluation> CheckInFieldEvaluation();
  absl::StatusOr<LocalUpdate> TrainForRound(
      const cohort::v1::TaskAssignment& assignment);
  absl::StatusOr<absl::Duration> DoAssignment(
      ParticipationSession& session,
      const cohort::v1::TaskAssignment& assignment);
  // Secure rounds: waits for the cohort and runs SecAgg+ on `session` with
  // the prepared update (`clipped`: model::PrepareUpdate changed it).
  absl::StatusOr<absl::Duration> RunSecureRound(ParticipationSession& session,
                                                int64_t round,
                                                LocalUpdate update,
                                                bool clipped);
  absl::Duration NextBackoff();
  // Waits for `d` or a stop request.
  void Wait(absl::Duration d);

  const AgentOptions options_;
  // Wrapped by CountTraffic: every message and model byte is counted.
  std::unique_ptr<CoordinatorTransport> transport_;
  Trainer* const trainer_;
  absl::Notification* const stop_;
  base::Random random_;
  int backoff_attempt_ = 0;
  int64_t rounds_reported_ = 0;
  // The release of the model last accepted (0: unsigned).
  int64_t accepted_release_ = 0;
  ModelCache model_cache_;
  // FedPer: the personal layers kept between rounds.
  PersonalStore personal_store_;
  std::unique_ptr<ReleaseGuard> guard_;
  // Set when no counters were given; counters_ is never null.
  std::unique_ptr<AgentCounters> own_counters_;
  AgentCounters* const counters_;
  // The last textfile write error logged; empty after a success.
  base::ErrorOnce textfile_errors_;
  // Never null.
  const std::unique_ptr<WorkGate> gate_;
  ModelListener model_listener_;
  IdentityKeeper* keeper_ = nullptr;
  // The assignment (model and plan) of the last plain round that asked for
  // field evaluations (nullopt after a secure round or one that did not
  // ask), and when a field evaluation was last sent.
  std::optional<cohort::v1::TaskAssignment> field_assignment_;
  absl::Time last_field_report_ = absl::InfinitePast();
  // Trainer::examples_added() when the last round's training started.
  int64_t examples_added_at_training_ = 0;
  // The last renewal error logged; empty after a success.
  base::ErrorOnce renewal_errors_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_H_
