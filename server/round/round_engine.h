#ifndef COHORT_SERVER_ROUND_ROUND_ENGINE_H_
#define COHORT_SERVER_ROUND_ROUND_ENGINE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/base/clock.h"
#include "server/registry/field_monitor.h"
#include "server/round/round_committer.h"
#include "server/round/round_context.h"
#include "server/round/round_metrics.h"
#include "server/round/round_options.h"
#include "server/round/round_outcome.h"
#include "server/round/round_state.h"
#include "server/round/task_model.h"
#include "server/store/store.h"

namespace cohort::server {

// Summary of a finished round, handed to the observer (progress line,
// metrics.csv, Prometheus): a committed round, or, with `abandoned` set, one
// that ended without a version (then version is the unchanged current one
// and participants, examples, loss and metrics are empty).
struct RoundSummary {
  int64_t round_id = 0;
  int64_t version = 0;
  int64_t assigned = 0;
  int64_t participants = 0;
  // Devices the round lost: drops.lost().
  int64_t dropped = 0;
  DropCounts drops;
  // The L2 bound the round's updates were clipped to.
  double clip_norm = std::numeric_limits<double>::quiet_NaN();
  // Of the aggregated updates, the share that clipping changed; NaN when
  // nothing was aggregated.
  double clipped_fraction = std::numeric_limits<double>::quiet_NaN();
  // Under differential privacy, the epsilon the task has spent (at the
  // configured delta) after this round; NaN without.
  double epsilon = std::numeric_limits<double>::quiet_NaN();
  int64_t total_examples = 0;
  double train_loss = 0.0;
  absl::Duration duration;
  std::map<std::string, double> metrics;
  std::optional<AbandonReason> abandoned;
  // What became of a round that was not abandoned: its version committed
  // and released; held by the gate (version is the held one, not current);
  // or dropped because field monitoring rolled back the version it trained
  // from (version is the rollback's).
  enum class Outcome { kCommitted, kHeld, kRolledBack };
  Outcome outcome = Outcome::kCommitted;
  // Field monitoring of the version the round trained from: mean device
  // accuracy (NaN without reports) over field_reports reports.
  double field_accuracy = std::numeric_limits<double>::quiet_NaN();
  int64_t field_reports = 0;
  // Its drift from the nearest earlier version with summaries (FieldDrift);
  // NaN without summaries on both sides.
  double field_feature_drift = std::numeric_limits<double>::quiet_NaN();
  double field_prediction_drift = std::numeric_limits<double>::quiet_NaN();
  double field_confidence_drift = std::numeric_limits<double>::quiet_NaN();
  // The shared metrics.csv columns of this summary.
  RoundOutcome outcome_columns(int64_t abandoned_rounds) const;
};

// The coordinator's round loop for one task, independent of any transport:
// the gRPC service and the simulator both drive it through CheckIn,
// SubmitReport and Drop, and a driver thread calls RunOnce (or Run).
//
// Thread-safe: one mutex guards the round; the heavy commit (optimizer,
// evaluate, store; RoundCommitter) runs on the driver thread without it, so
// RPC handlers never wait for it. Store, TaskModel and Clock are injected and
// must outlive it.
// What a rollback made: the new version holding the old weights, and the
// release devices get it under (0 when releases are not signed).
struct RollbackOutcome {
  int64_t version = 0;
  int64_t release = 0;
};

class RoundEngine {
 public:
  // Called on the driver thread after every round: committed, abandoned
  // (summary.abandoned says why) or not committed because the commit failed
  // (abandoned with AbandonCause::kCommitFailed).
  using Observer = std::function<void(const RoundSummary&)>;

  // `registry` signs and releases every committed version (null: versions
  // go to devices unsigned); it is borrowed like the store.
  RoundEngine(RoundOptions options, Store* store, TaskModel* task_model,
              base::Clock* clock, Observer observer = nullptr,
              ReleaseRegistry* registry = nullptr);

  // Loads the current version from the store, or creates, evaluates and
  // commits version 1 from TaskModel::InitialWeights(). Opens the first round.
  // Errors from the store (UNAVAILABLE, DATA_LOSS, ...) are returned as-is.
  absl::Status Start();

  // A device asks for work. Never blocks on I/O.
  CheckInOutcome CheckIn(const std::string& device_id);
  // The field evaluation a device sent with its check-in
  // (CheckIn.field_evaluation): recorded when field monitoring is on, the
  // task does not use SecAgg (a secure task reveals field statistics only
  // as sums) and it names the current or the previous version; otherwise
  // dropped. A malformed one is logged and dropped. Never blocks on I/O.
  void RecordCheckInField(const std::string& device_id,
                          const cohort::v1::FieldEvaluation& evaluation);
  // See AcceptReport() for the codes. Never blocks on I/O.
  absl::StatusOr<cohort::v1::Ack> SubmitReport(const std::string& device_id,
                                               const cohort::v1::Report& report);
  // Secure rounds: one SecAgg message from a device after its assignment.
  // `ready` registers `channel`, on which the engine then sends the device's
  // SecAgg messages and, last, its Ack. Returns an Ack to send now and end the
  // stream with (a ready that came too late), or nullopt to keep the stream
  // open. An error ends the stream with that status: INVALID_ARGUMENT for a
  // malformed or refused message (the device is out of the protocol),
  // ABORTED for a message that belongs to no running aggregation.
  absl::StatusOr<std::optional<cohort::v1::Ack>> SubmitSecAgg(
      const std::string& device_id, int64_t round_id,
      const cohort::v1::SecAggClientMessage& message,
      std::shared_ptr<DeviceChannel> channel);
  // The device's stream for round `round_id` ended without a report. Ignored
  // when that round is no longer open (a stale stream closing late).
  void Drop(const std::string& device_id, int64_t round_id);

  // Advances deadlines, commits or abandons the round when it is over, and
  // opens the next one. Returns false once max_rounds have been committed.
  bool RunOnce();
  // Calls RunOnce until it returns false or `stop` is notified.
  void Run(absl::Notification* stop, absl::Duration tick = absl::Milliseconds(20));

  // Rolls the task back to `to_version`'s weights (RoundCommitter::RollBack)
  // on the driver thread, between two RunOnce steps, and waits for it (at
  // most two minutes). Devices get the new release from the next round on;
  // the round open at the time is not committed (its parent is no longer
  // current). Thread-safe. NOT_FOUND for an unknown version; UNAVAILABLE
  // when Run is not running; DEADLINE_EXCEEDED if the driver did not get
  // to it in time (it may still run); store and registry errors as-is.
  //
  // `kind` kRollback (default), kPromote (an operator releases a held or
  // earlier version; ends a pin) or kPin (releases to_version and holds
  // every new version until the next promote or rollback).
  absl::StatusOr<RollbackOutcome> RollBack(
      int64_t to_version, const std::string& reason, const std::string& actor,
      ReleaseRecord::Kind kind = ReleaseRecord::Kind::kRollback);
  // Pause: no new round opens (check-ins get a RetryWindow, "task paused");
  // the open round runs to its end. In memory only. Thread-safe, idempotent;
  // logs `actor` and `reason`.
  void SetPaused(bool paused, const std::string& reason,
                 const std::string& actor);
  bool paused() const;
  // The current release is of kind pin: new versions are held.
  bool pinned() const;

  // What devices are told of the store: OK, or UNAVAILABLE ("rounds are
  // paused", without the store's own error, which names the database)
  // while the coordinator cannot use it, because the store probe failed
  // (SetStoreHealth) or a round's commit is waiting for the store to return.
  // Check-ins are then refused with it (DeviceSession): rounds pause
  // rather than train devices for a version that could not be stored.
  // Thread-safe.
  absl::Status StoreStatus() const;
  // The coordinator's store probe (the one behind grpc.health.v1) found
  // `status`; UNAVAILABLE or DEADLINE_EXCEEDED (IsStoreAway) pauses
  // check-ins until a probe succeeds. Thread-safe.
  void SetStoreHealth(const absl::Status& status);
  // A round's result is held until the store returns: its commit found the
  // store away (UNAVAILABLE or DEADLINE_EXCEEDED) and is retried, with
  // backoff from kFirstCommitRetry to kMaxCommitRetry, by RunOnce. Nothing
  // is lost: the result was noised once, and a retry commits the same one.
  // False while an attempt runs, so that the watchdog times each attempt.
  bool waiting_for_store() const;
  static constexpr absl::Duration kFirstCommitRetry = absl::Seconds(1);
  static constexpr absl::Duration kMaxCommitRetry = absl::Seconds(10);

  // Whether Run is driving rounds (so RollBack can be served).
  bool running() const;

  // Current published version (never null after Start()).
  std::shared_ptr<const PublishedModel> current_model() const;
  // The current or the previous version, else nullptr.
  std::shared_ptr<const PublishedModel> FindModel(int64_t version) const;
  RoundPhase phase() const;
  const std::string& task() const { return options_.task; }
  int64_t round_id() const;
  // The open round's updates carry batch norm running statistics
  // (RoundContext.statistics_clip_norm > 0).
  bool has_running_statistics() const;
  // Rounds that ended with a new version: committed, held or rolled back.
  int64_t rounds_committed() const;
  // Devices holding an assignment in the open round.
  int64_t assigned_count() const;

 private:
  void OpenRoundLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The round in ctx_ was abandoned: logs its reason, returns its summary
  // and opens the next round.
  RoundSummary AbandonLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The round in ctx_ is committing: takes its RoundResult, leaving the
  // round itself (identity, counts) in ctx_ for handlers and the summary
  // until the commit ends.
  RoundResult TakeResultLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the round's differential-privacy noise to `result` (its updates
  // were clipped to `clip_norm`), commits it without mu_, adopts the new
  // version, opens the next round or finishes, and tells the observer.
  // Returns whether the engine still runs.
  bool CommitAndAdvance(RoundResult result, double clip_norm);
  // The end of a commit (now, or after the store returned): the summary,
  // the next round, the observer. Returns whether the engine still runs.
  bool EndCommit(const RoundResult& result,
                 absl::StatusOr<std::shared_ptr<const PublishedModel>> committed);
  // Opens the next round (or finishes), flushes device counters and tells
  // the observer. Returns whether the engine still runs.
  bool Advance(RoundSummary summary);
  // Driver thread, round_engine_outage.cc: the store was away when
  // `result` was to be committed. Holds it and tries once now.
  bool HoldForStore(RoundResult result, const absl::Status& status);
  // Tries the held commit again; ends it unless the store is still away.
  bool RetryHeldCommit();
  // The store answered and the hold is over: clears it, lifts the pause on
  // check-ins and returns the held result.
  RoundResult EndHold();
  // The held commit's outcome: the stored version (committed now, or found
  // in the store when an earlier attempt landed after all), or an error.
  // UNAVAILABLE / DEADLINE_EXCEEDED: still away, try later. ABORTED: the
  // round must not be committed (another version became current, or the
  // round was stored as a held version).
  absl::StatusOr<std::shared_ptr<const PublishedModel>> TryHeldCommit();
  // The commit of ctx_'s round succeeded: makes `model` current and returns
  // the round's summary.
  RoundSummary AdoptLocked(const RoundResult& result,
                           std::shared_ptr<const PublishedModel> model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The commit of ctx_'s round failed with `status`: its summary, abandoned.
  RoundSummary CommitFailedLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a commit: opens the next round, or finishes once max_rounds are
  // committed. Returns whether the engine still runs.
  bool OpenNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The epsilon spent after dp_rounds_ rounds; NaN without privacy.
  double SpentEpsilonLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AdvanceLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The summary's counts from `ctx` (everything but version, metrics and
  // what the RoundResult says).
  RoundSummary SummaryOf(const RoundContext& ctx) const;
  void CountDevice(const std::string& device_id, int check_ins, int accepted,
                   int rejected) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushDevices();
  // After a failed commit: the store may still hold the new version (an
  // in-doubt transaction). Adopts whatever the store says is current.
  void ReconcileWithStore();
  // The store's current version `record`, released if it was not yet, with
  // the committer's optimizer state and privacy count read back from the
  // store; not made current (the caller does that).
  absl::StatusOr<std::shared_ptr<const PublishedModel>> LoadStoredHead(
      const ModelVersionRecord& record);
  // Parses stored weights and checks their layout against the architecture.
  absl::StatusOr<std::shared_ptr<const PublishedModel>> ParseRecord(
      const ModelVersionRecord& record) const;
  // ParseRecord, with the version's release attached (or published).
  absl::StatusOr<std::shared_ptr<const PublishedModel>> LoadRecord(
      const ModelVersionRecord& record);

  // The commit of ctx_'s round was held by the gate: its summary.
  RoundSummary HeldLocked(const RoundResult& result,
                          const PublishedModel& model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills summary's field statistics from what devices said of `version`.
  void AddFieldStatsLocked(RoundSummary& summary, int64_t version) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a device's FieldEvaluation of the version the open round
  // serves; a malformed one is logged and dropped.
  void RecordFieldLocked(const std::string& device_id,
                         const cohort::v1::FieldEvaluation& evaluation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a secure round's decoded field statistics (result.field), if
  // any, for the version it trained from.
  void RecordFieldSum(const RoundResult& result);
  // Driver thread, before a round commits: when field monitoring condemns
  // the current version, rolls back to the previous one and returns the
  // round's summary (its result is dropped); otherwise nullopt.
  std::optional<RoundSummary> MaybeAutoRollback();
  // Driver thread, at most every kReleaseRefresh of clock time: adopts a
  // re-signed current release (RoundCommitter::Refreshed), so a quiet task
  // never serves an expired manifest.
  void RefreshRelease();
  static constexpr absl::Duration kReleaseRefresh = absl::Hours(1);
  // While paused, an empty round waits in selection instead of timing out.
  void HoldSelectionLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A RollBack call waiting for the driver thread.
  struct PendingRollback {
    int64_t to_version = 0;
    std::string reason;
    std::string actor;
    ReleaseRecord::Kind kind = ReleaseRecord::Kind::kRollback;
    absl::Notification done;
    absl::StatusOr<RollbackOutcome> result = absl::UnknownError("not run");
  };
  // Buffered rounds: an update that arrives while no buffer takes updates
  // (one is aggregating or committing) is not used; its assignment closes
  // so that its slot frees.
  void CloseUnusableAssignmentLocked(const std::string& device_id,
                                     int64_t round_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Buffered rounds: model_ changed other than by this engine's commit (a
  // rollback, or a version found in the store): updates trained from
  // earlier versions are refused from now on (BufferLedger::Forget), and an
  // open buffer is dropped for a new one on model_.
  void ForgetInFlightLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Driver thread: runs the queued rollbacks.
  void RunPendingRollbacks();
  absl::StatusOr<RollbackOutcome> ExecuteRollback(const PendingRollback& request);

  // A round's result waiting for the store (waiting_for_store()).
  struct HeldCommit {
    RoundResult result;
    absl::Time next_try;
    absl::Duration backoff;
  };

  const RoundOptions options_;
  Store* const store_;
  TaskModel* const task_model_;
  base::Clock* const clock_;
  const Observer observer_;
  // Driver thread only; holds the server optimizer.
  RoundCommitter committer_;
  // Driver thread only.
  std::optional<HeldCommit> held_commit_;

  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<PendingRollback>> rollbacks_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;  // inside Run
  std::unique_ptr<RoundState> state_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RoundContext> ctx_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const PublishedModel> model_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const PublishedModel> previous_ ABSL_GUARDED_BY(mu_);
  // The committer's clip bound for rounds that train from model_, copied
  // under mu_ by the driver thread whenever model_ changes with it.
  double clip_norm_ ABSL_GUARDED_BY(mu_) = 0.0;
  // RoundCommitter::privacy_rounds(), copied like clip_norm_.
  int64_t dp_rounds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_round_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t rounds_committed_ ABSL_GUARDED_BY(mu_) = 0;
  // Null when field monitoring is off.
  std::unique_ptr<FieldMonitor> field_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  // The store probe's last finding, and a held commit's last error.
  absl::Status store_health_ ABSL_GUARDED_BY(mu_);
  absl::Status held_commit_error_ ABSL_GUARDED_BY(mu_);
  // A held commit's attempt is running: the watchdog times it like any
  // commit (waiting_for_store() is false meanwhile).
  bool held_attempt_running_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  struct DeviceCounts {
    int64_t last_seen_ms = 0;
    int check_ins = 0, accepted = 0, rejected = 0;
  };
  std::map<std::string, DeviceCounts> pending_devices_ ABSL_GUARDED_BY(mu_);
  // Bounds pending_devices_ between flushes.
  static constexpr size_t kMaxPendingDevices = 100000;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_ENGINE_H_
