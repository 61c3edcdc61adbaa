#include "client/agent/agent.h"

#include <algorithm>
#include <functional>
#include <optional>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "client/agent/last_round.h"
#include "client/secagg/secure_round_driver.h"
#include "client/train/client_task.h"
#include "common/base/files.h"
#include "common/base/kill_point.h"
#include "common/base/status_macros.h"
#include "common/crypto/secure_random.h"
#include "common/crypto/sha256.h"
#include "common/model/flat_weights.h"
#include "common/model/running_statistics.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

// A device's key for its training seeds: the first 8 bytes of SHA-256 of its
// id, the same on every build and platform (std::hash is neither).
uint64_t DeviceKey(const std::string& device_id) {
  const auto digest = crypto::Sha256(device_id);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | digest[i];
  return key;
}

// The memory this device has, for its check-in; 0 if unknown.
int64_t PhysicalMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? int64_t{pages} * page_size : 0;
}

absl::Time ReportDeadline(const cohort::v1::TaskAssignment& assignment) {
  return assignment.report_deadline_unix_ms() > 0
             ? absl::FromUnixMillis(assignment.report_deadline_unix_ms())
             : absl::InfiniteFuture();
}

}  // namespace

Agent::Agent(const AgentOptions& options,
             std::unique_ptr<CoordinatorTransport> transport,
             Trainer* trainer, absl::Notification* stop,
             std::unique_ptr<ReleaseGuard> guard, AgentCounters* counters,
             std::unique_ptr<WorkGate> gate)
    : options_(options),
      transport_(std::move(transport)),
      trainer_(trainer),
      stop_(stop),
      random_(DeviceKey(options.device_id) ^
              static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()))),
      model_cache_(options.state_dir),
      personal_store_(options.state_dir),
      guard_(std::move(guard)),
      own_counters_(counters == nullptr ? std::make_unique<AgentCounters>()
                                        : nullptr),
      counters_(counters == nullptr ? own_counters_.get() : counters),
      gate_(gate != nullptr ? std::move(gate)
                            : WorkGate::ForDevice(options)) {
  transport_ = CountTraffic(std::move(transport_), counters_);
}

void Agent::Wait(absl::Duration d) { stop_->WaitForNotificationWithTimeout(d); }

absl::Duration Agent::NextBackoff() {
  const int64_t initial = absl::ToInt64Milliseconds(options_.backoff_initial);
  const int64_t max = absl::ToInt64Milliseconds(options_.backoff_max);
  const int shift = std::min(backoff_attempt_, 20);
  // initial << shift, without overflow for any configured initial.
  const int64_t cap = initial > (max >> shift) ? max : initial << shift;
  ++backoff_attempt_;
  // Jitter spreads a fleet that lost the server at the same moment.
  return absl::Milliseconds(random_.UniformInRange(cap / 2, cap));
}

void Agent::PublishCounters() {
  counters_->SetModelVersion(model_cache_.cached_version());
  if (options_.metrics_textfile.empty()) return;
  absl::Status written = WriteTextfile(*counters_, options_.metrics_textfile);
  if (textfile_errors_.ShouldLog(written)) {
    LOG(WARNING) << "cannot write metrics_textfile: " << written;
  }
}

absl::Status Agent::Run() {
  absl::Status s = RunLoop();
  PublishCounters();
  return s;
}

absl::Status Agent::RunLoop() {
  while (!stop_->HasBeenNotified()) {
    if (keeper_ != nullptr) {
      const absl::Status renewed = keeper_->MaybeRenew(*transport_, absl::Now());
      if (renewal_errors_.ShouldLog(renewed)) {
        LOG(WARNING) << "certificate renewal failed, keeping the current one "
                     << "(valid until " << keeper_->identity().not_after
                     << "): " << renewed;
      }
    }
    auto delay = ParticipateOnce();
    PublishCounters();
    if (stop_->HasBeenNotified()) break;
    if (delay.ok()) {
      backoff_attempt_ = 0;
      if (options_.max_rounds > 0 && rounds_reported_ >= options_.max_rounds) {
        LOG(INFO) << "reported " << rounds_reported_ << " rounds; leaving";
        return absl::OkStatus();
      }
      Wait(*delay);
      continue;
    }
    if (delay.status().code() == absl::StatusCode::kUnauthenticated ||
        delay.status().code() == absl::StatusCode::kFailedPrecondition) {
      return delay.status();
    }
    if (delay.status().code() == absl::StatusCode::kUnavailable) {
      // A local mistake (server name, certificate, clock) looks like a
      // network failure from gRPC; retrying it forever helps nobody.
      if (absl::Status cause = transport_->Diagnose(); !cause.ok()) return cause;
    }
    absl::Duration backoff = NextBackoff();
    LOG(WARNING) << delay.status() << "; retrying in " << backoff;
    Wait(backoff);
  }
  LOG(INFO) << "stopped cleanly after " << rounds_reported_ << " rounds";
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> Agent::ParticipateOnce() {
  if (absl::Status admitted =
          gate_->Admit(trainer_->num_examples(), trainer_->examples_added(),
                       *counters_);
      !admitted.ok()) {
    counters_->Refused(RefusalFor(admitted));
    return gate_->recheck_interval();
  }
  // The CheckIn, with its field evaluation (which can take a while on a
  // slow device), is ready before the stream opens: the coordinator ends a
  // stream whose CheckIn does not arrive in time (check_in_timeout_ms).
  cohort::v1::CheckIn check_in;
  check_in.set_device_id(options_.device_id);
  check_in.set_population(options_.population);
  // What the agent offers, not what the machine has: it trains with
  // num_threads threads.
  check_in.mutable_capabilities()->set_cpu_cores(
      std::max(1, options_.num_threads));
  check_in.mutable_capabilities()->set_memory_bytes(PhysicalMemoryBytes());
  check_in.mutable_capabilities()->set_clips_statistics_apart(true);
  check_in.set_cached_model_version(model_cache_.cached_version());
  if (auto field = CheckInFieldEvaluation()) {
    *check_in.mutable_field_evaluation() = *std::move(field);
  }
  auto session = transport_->OpenSession();
  auto reply = session->CheckIn(check_in);
  COHORT_ASSIGN_OR_RETURN(std::optional<absl::Duration> retry,
                          Answered(reply));
  if (retry.has_value()) {
    session->Close();
    return *retry;
  }
  base::KillPoint("agent.checked_in");
  auto result = JoinRound(*session, reply->task_assignment());
  session->Close();
  return result;
}

absl::StatusOr<std::optional<absl::Duration>> Agent::Answered(
    const absl::StatusOr<cohort::v1::ServerMessage>& reply) {
  if (!reply.ok()) {
    counters_->CheckInFailed();
    const absl::StatusCode code = reply.status().code();
    if (code == absl::StatusCode::kFailedPrecondition ||
        code == absl::StatusCode::kInvalidArgument) {
      // The server refuses this device as configured; retrying cannot help.
      counters_->Refused(Refusal::kServerRefused);
      return absl::FailedPreconditionError(
          absl::StrCat("check-in refused: ", reply.status().message()));
    }
    return reply.status();
  }
  if (reply->has_retry_window()) {
    const auto& w = reply->retry_window();
    counters_->Retry(w.cause());
    int64_t lo = std::max<int64_t>(0, w.min_delay_ms());
    int64_t hi = std::max<int64_t>(lo, w.max_delay_ms());
    VLOG(1) << "retry window: " << w.reason();
    return std::optional<absl::Duration>(
        absl::Milliseconds(random_.UniformInRange(lo, hi)));
  }
  if (!reply->has_task_assignment()) {
    counters_->CheckInFailed();
    return absl::InternalError("server sent neither assignment nor retry");
  }
  counters_->Assigned();
  return std::optional<absl::Duration>();
}

absl::StatusOr<absl::Duration> Agent::JoinRound(
    ParticipationSession& session,
    const cohort::v1::TaskAssignment& assignment) {
  const int64_t reported = rounds_reported_;
  auto result = DoAssignment(session, assignment);
  // Every OK end of DoAssignment is an Ack; only an accepted one counts as
  // reported.
  RoundResult ended = RoundResult::kAbandoned;
  if (result.ok()) {
    ended = rounds_reported_ > reported ? RoundResult::kAccepted
                                        : RoundResult::kNotUsed;
    gate_->RoundReported(ended == RoundResult::kAccepted,
                         examples_added_at_training_, *counters_);
  }
  counters_->RoundEnded(ended, absl::Now());
  RecordLastRound(options_.state_dir, assignment, ended, result.status());
  return result;
}

absl::StatusOr<cohort::v1::Weights> Agent::StartingModel(
    const cohort::v1::TaskAssignment& assignment) {
  const cohort::v1::ModelRef& ref = assignment.model();
  std::optional<cohort::v1::ModelManifest> release;
  if (guard_ != nullptr) {
    auto checked = guard_->Check(ref, assignment.task(), absl::Now());
    if (!checked.ok()) {
      counters_->Refused(Refusal::kModelRefused);
      return absl::AbortedError(absl::StrCat("refused the assigned model: ",
                                             checked.status().ToString()));
    }
    release = *std::move(checked);
  }
  // The cache verifies the bytes against ref.sha256, which the checked
  // manifest lists, so a verified download is the signed artifact.
  auto weights = CachedOrFetched(assignment);
  if (!weights.ok()) return weights.status();
  base::KillPoint("agent.model_fetched");
  if (release.has_value()) {
    COHORT_RETURN_IF_ERROR(guard_->Accept(*release));
    accepted_release_ = release->release();
    base::KillPoint("agent.release_accepted");
  }
  return weights;
}

absl::StatusOr<cohort::v1::Weights> Agent::CachedOrFetched(
    const cohort::v1::TaskAssignment& assignment) {
  const cohort::v1::ModelRef& ref = assignment.model();
  // Only a download is charged, at the model's full size: a delta may be
  // smaller, but the budget must hold for the worst case.
  absl::Status over_budget;
  auto weights = model_cache_.Get(
      ref, [&](const ModelBase& base) -> absl::StatusOr<std::string> {
        over_budget = gate_->AdmitDownload(ref.size_bytes(), *counters_);
        if (!over_budget.ok()) return over_budget;
        return transport_->FetchModelFrom(ref, assignment.task(), base);
      });
  if (!over_budget.ok()) {
    counters_->Refused(Refusal::kBudget);
    return absl::AbortedError(absl::StrCat("round ", assignment.round_id(),
                                           ": not downloading the model: ",
                                           over_budget.message()));
  }
  if (!weights.ok()) counters_->Refused(Refusal::kModelDownload);
  return weights;
}

absl::Status Agent::OutOfTime(int64_t round, absl::Time report_deadline) {
  if (absl::Now() < report_deadline) {
    counters_->Refused(Refusal::kBudget);
    return absl::AbortedError(absl::StrCat(
        "round ", round, ": budgets.max_round_time_ms (",
        absl::FormatDuration(options_.budgets.max_round_time),
        ") ran out; not reporting"));
  }
  counters_->Refused(Refusal::kDeadline);
  return absl::AbortedError(absl::StrCat(
      "round ", round, ": the report deadline ",
      absl::FormatTime(report_deadline), " passed; not reporting"));
}

absl::Status Agent::Abandoned(int64_t round, const absl::Status& lost) {
  counters_->Refused(Refusal::kIneligible);
  return absl::AbortedError(absl::StrCat("round ", round, ": ", lost.message(),
                                         "; abandoned, not reporting"));
}

absl::StatusOr<LocalUpdate> Agent::TrainForRound(
    const cohort::v1::TaskAssignment& assignment) {
  const int64_t round = assignment.round_id();
  const absl::Time report_deadline = ReportDeadline(assignment);
  // The round's time budget counts from its assignment.
  const absl::Time deadline = std::min(
      report_deadline, absl::Now() + options_.budgets.max_round_time);
  if (absl::Now() >= deadline) return OutOfTime(round, report_deadline);
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights global, StartingModel(assignment));
  // FedPer: the device's own personal layers in place of the global ones.
  const cohort::v1::Weights start =
      PersonalizedStart(personal_store_, assignment, std::move(global));
  if (model_listener_) {
    model_listener_(assignment.model(), start, accepted_release_,
                    model_cache_.int8_artifact());
  }
  std::optional<cohort::v1::FieldEvaluation> field;
  field_assignment_.reset();
  if (assignment.evaluate_before_training()) {
    field = EvaluateAssigned(assignment, start);
    last_field_report_ = absl::Now();
    if (!assignment.secure_aggregation()) field_assignment_ = assignment;
  }
  const absl::Time train_start = absl::Now();
  // What this round trains on: examples added from now on are new for the
  // next round's min_new_examples.
  examples_added_at_training_ = trainer_->examples_added();
  const StopCheck ineligible = gate_->WatchTraining();
  auto update = trainer_->Train(
      assignment.model().architecture(), start, assignment.plan(),
      TrainingSeed(DeviceKey(options_.device_id), round), deadline,
      [&] { return stop_->HasBeenNotified() || ineligible(); });
  counters_->Trained(absl::Now() - train_start);
  if (!gate_->training_lost().ok()) {
    return Abandoned(round, gate_->training_lost());
  }
  if (update.status().code() == absl::StatusCode::kDeadlineExceeded ||
      absl::Now() >= deadline) {
    return OutOfTime(round, report_deadline);
  }
  if (!update.ok() && !stop_->HasBeenNotified()) {
    // The device's own data (an application's population of the wrong
    // shape, examples that aged out) or the model: this round is lost, the
    // next check-in may go better. Never a reason to stop the daemon.
    return absl::AbortedError(absl::StrCat("round ", round,
                                           ": local training failed: ",
                                           update.status().ToString()));
  }
  if (!update.ok()) return update;
  update->field_evaluation = std::move(field);
  if (absl::Status kept = KeepTrained(personal_store_, assignment, start,
                                      &*update);
      !kept.ok()) {
    return absl::AbortedError(absl::StrCat(
        "round ", round, ": cannot keep the personal layers: ",
        kept.message(), "; not reporting"));
  }
  return update;
}

std::optional<cohort::v1::FieldEvaluation> Agent::EvaluateAssigned(
    const cohort::v1::TaskAssignment& assignment,
    const cohort::v1::Weights& weights) {
  auto evaluation =
      trainer_->Evaluate(assignment.model().architecture(), weights);
  if (!evaluation.ok()) {
    LOG(WARNING) << "round " << assignment.round_id()
                 << ": cannot evaluate the assigned model, reporting no "
                    "field evaluation: "
                 << evaluation.status();
    return std::nullopt;
  }
  VLOG(1) << "round " << assignment.round_id() << ": version "
          << assignment.model().version() << " scores "
          << evaluation->accuracy << " on " << evaluation->num_examples
          << " local examples";
  return MakeFieldEvaluation(accepted_release_, assignment.model().version(),
                             *evaluation);
}

std::optional<cohort::v1::FieldEvaluation> Agent::CheckInFieldEvaluation() {
  if (!field_assignment_.has_value() ||
      absl::Now() - last_field_report_ < options_.field_report_interval) {
    return std::nullopt;
  }
  last_field_report_ = absl::Now();
  auto weights = model_cache_.Get(
      field_assignment_->model(),
      [](const ModelBase&) -> absl::StatusOr<std::string> {
        return absl::NotFoundError("the held model is no longer cached");
      });
  if (!weights.ok()) {
    field_assignment_.reset();
    return std::nullopt;
  }
  cohort::v1::TaskAssignment held = *field_assignment_;
  held.set_round_id(0);
  // As in a round: the device's own model, its personal layers included.
  return EvaluateAssigned(
      held, PersonalizedStart(personal_store_, held, *std::move(weights)));
}

absl::StatusOr<absl::Duration> Agent::DoAssignment(
    ParticipationSession& session,
    const cohort::v1::TaskAssignment& assignment) {
  const int64_t round = assignment.round_id();
  absl::Time t0 = absl::Now();
  COHORT_ASSIGN_OR_RETURN(LocalUpdate update, TrainForRound(assignment));
  base::KillPoint("agent.trained");
  if (stop_->HasBeenNotified()) return absl::CancelledError("stopping");
  if (assignment.secure_aggregation()) {
    LOG(INFO) << "round " << round << ": trained in " << absl::Now() - t0
              << "; aggregating securely";
    // Clipped here as a plain report would be (MakeReport); the encoding's
    // own clip then changes nothing.
    const bool clipped =
        model::PrepareUpdate(&update.delta, assignment.clip_norm(),
                             assignment.statistics_clip_norm());
    return RunSecureRound(session, round, std::move(update), clipped);
  }
  const int64_t examples = update.num_examples;
  const double loss = update.train_loss;
  auto ack = session.Report(
      MakeReport(round, assignment.clip_norm(),
                 assignment.statistics_clip_norm(), std::move(update)));
  if (!ack.ok()) {
    if (ack.status().code() == absl::StatusCode::kFailedPrecondition) {
      // The round moved on or dropped this device: check in again.
      return absl::AbortedError(ack.status().message());
    }
    return ack.status();
  }
  LOG(INFO) << "round " << round << ": trained on " << examples
            << " examples in " << absl::Now() - t0 << ", loss " << loss
            << (ack->accepted() ? ", report accepted" : ", report not used: ")
            << ack->message();
  if (ack->accepted()) ++rounds_reported_;
  base::KillPoint("agent.reported");
  return absl::ZeroDuration();
}

absl::StatusOr<absl::Duration> Agent::RunSecureRound(
    ParticipationSession& session, int64_t round, LocalUpdate update,
    bool clipped) {
  crypto::OpenSslRandom random;
  // The rounding stream is distinct from the training stream of this round.
  secagg::SecureRoundDriver driver(
      round, model::FlattenFloats(update.delta), update.num_examples,
      update.train_loss,
      TrainingSeed(DeviceKey(options_.device_id), round) ^ 0x5ec0a66ULL,
      &random, std::move(update.field_evaluation), std::nullopt, clipped);
  update.delta.Clear();
  const cohort::v1::ClientMessage ready = driver.Ready();
  // Any failure here only costs this round: check in again later.
  auto retry = [this, round](const absl::Status& s) {
    counters_->Refused(Refusal::kSecAgg);
    return absl::AbortedError(
        absl::StrCat("secure round ", round, ": ", s.message()));
  };
  if (absl::Status s = session.Send(ready); !s.ok()) return retry(s);
  while (!stop_->HasBeenNotified()) {
    auto reply = session.Receive();
    if (!reply.ok()) return retry(reply.status());
    const secagg::SecureRoundStep step = driver.Handle(*reply);
    for (const auto& m : step.send) {
      if (absl::Status s = session.Send(m); !s.ok()) return retry(s);
    }
    // Named by the phase the answer moved the client to: once a round each.
    if (!step.send.empty() && base::KillPointArmed()) {
      base::KillPoint(absl::StrCat("agent.secagg.", driver.StateName()));
    }
    if (step.ack.has_value()) {
      LOG(INFO) << "round " << round << ": "
                << (step.ack->accepted() ? "update summed securely"
                                         : "update not used: ")
                << (step.ack->accepted() ? "" : step.ack->message());
      if (step.ack->accepted()) ++rounds_reported_;
      return absl::ZeroDuration();
    }
    if (!step.status.ok()) return retry(step.status);
    VLOG(1) << "round " << round << ": SecAgg " << driver.StateName();
  }
  return absl::CancelledError("stopping");
}

}  // namespace cohort::client
