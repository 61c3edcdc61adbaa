#include "sim/simulator.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/train/client_task.h"
#include "client/train/personalization.h"
#include "common/base/random.h"
#include "common/base/status_macros.h"
#include "common/model/flat_weights.h"
#include "common/model/weights_util.h"
#include "glog/logging.h"
#include "sim/in_process_transport.h"
#include "sim/random_streams.h"

namespace cohort::sim {
namespace {

// Consecutive abandoned or unfillable round attempts before giving up.
constexpr int kMaxFailedAttempts = 20;

double WallSeconds() { return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()); }

// How many of the latest abandon reasons the give-up error names.
constexpr size_t kAbandonsNamed = 3;

}  // namespace

std::string DeviceName(int64_t id) { return absl::StrCat("client-", id); }

// One round attempt: what RunRound's steps share.
struct RoundAttempt {
  struct Participant {
    int64_t id = 0;
    std::unique_ptr<client::ParticipationSession> session;
    ClientTimeline timeline;
  };
  int64_t round_id = 0;
  cohort::v1::TaskAssignment assignment;
  // In event order once planned.
  std::vector<Participant> assigned;
  // Indices into `assigned` of the in-time survivors up to the goal.
  std::vector<size_t> reporters;
  absl::Time t0;
  double deadline_s = 0;
  RoundTally tally;
};

void Simulator::OnRoundEnd(const server::RoundSummary& summary) {
  if (!summary.abandoned.has_value()) {
    last_summary_ = summary;
    return;
  }
  ++abandoned_since_row_;
  recent_abandons_.push_back(absl::StrCat(
      "round ", summary.round_id, ": ", summary.abandoned->ToString()));
  if (recent_abandons_.size() > kAbandonsNamed) recent_abandons_.pop_front();
}

absl::Status Simulator::Run(const Callbacks& callbacks) {
  wall_start_ = WallSeconds();
  if (options_.buffered.has_value()) return RunBuffered(callbacks);
  int failed = 0;
  // The engine finishes early when the task's privacy budget is spent.
  while (committed_ < options_.max_rounds &&
         engine_->phase() != server::RoundPhase::kFinished) {
    COHORT_ASSIGN_OR_RETURN(bool done, RunRound(callbacks));
    if (done) {
      failed = 0;
    } else if (++failed >= kMaxFailedAttempts) {
      return GiveUp();
    }
  }
  // Other ranks train no more; their processes end.
  return training_->Stop();
}

absl::Status Simulator::GiveUp() const {
  if (recent_abandons_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kMaxFailedAttempts, " round attempts in a row ended without a round: "
        "too few clients are reachable or too many drop out to reach "
        "min_reports"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      kMaxFailedAttempts, " round attempts in a row were abandoned; the last ",
      recent_abandons_.size(), ": ", absl::StrJoin(recent_abandons_, "; ")));
}

std::array<uint8_t, 32> Simulator::NoiseSeedOf(int64_t id,
                                               int64_t round_id) const {
  std::array<uint8_t, 32> seed{};
  for (size_t word = 0; word < 4; ++word) {
    const uint64_t v = MixKey(config_.seed(), kNoiseStream,
                              static_cast<uint64_t>(id),
                              static_cast<uint64_t>(round_id) * 4 + word);
    for (size_t b = 0; b < 8; ++b) {
      seed[word * 8 + b] = static_cast<uint8_t>(v >> (8 * b));
    }
  }
  return seed;
}

absl::Status Simulator::SendReady(int64_t id,
                                  client::ParticipationSession* session,
                                  int64_t round_id, ReportSource take) {
  SecureClient c;
  c.id = id;
  c.session = session;
  // The client trains when its masked input is due, not now: a secure
  // cohort's updates are never all in memory together.
  c.driver = std::make_unique<secagg::SecureRoundDriver>(
      round_id,
      [take = std::move(take)]() -> absl::StatusOr<secagg::TrainedUpdate> {
        COHORT_ASSIGN_OR_RETURN(cohort::v1::Report report, take());
        secagg::TrainedUpdate u;
        u.delta = model::FlattenFloats(report.delta());
        u.examples = report.num_examples();
        u.loss = report.train_loss();
        if (report.has_field_evaluation()) {
          u.field_evaluation = report.field_evaluation();
        }
        u.clipped = report.clipped();
        return u;
      },
      MixKey(config_.seed(), kRoundingStream, static_cast<uint64_t>(id),
             static_cast<uint64_t>(round_id)),
      &random_, NoiseSeedOf(id, round_id));
  c.drop = devices_->SecAggDropOf(id, round_id);
  COHORT_RETURN_IF_ERROR(session->Send(c.driver->Ready()));
  secure_.push_back(std::move(c));
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::Report> Simulator::TakeReport(size_t reporter) {
  if (reporter < reports_taken_) {
    // A simulator bug that would make runs depend on timing: fail the run.
    training_failure_.Update(absl::InternalError(
        absl::StrCat("reporter ", reporter, "'s update was asked for out of "
                     "order (", reports_taken_, " taken)")));
    return training_failure_;
  }
  // Reporters before it that left the round never needed theirs.
  DrainReports(reporter);
  absl::StatusOr<cohort::v1::Report> report = training_->Take(reports_taken_++);
  if (!report.ok()) training_failure_.Update(report.status());
  return report;
}

void Simulator::DrainReports(size_t end) {
  while (reports_taken_ < end) {
    absl::StatusOr<cohort::v1::Report> r = training_->Take(reports_taken_++);
    if (!r.ok()) training_failure_.Update(r.status());
  }
}

absl::StatusOr<bool> Simulator::RunRound(const Callbacks& callbacks) {
  const int64_t attempt = ++attempts_;
  const absl::Time round_start = clock_.Now();
  RoundAttempt a;
  COHORT_ASSIGN_OR_RETURN(const bool selected, Select(a, attempt));
  if (!selected) return false;
  COHORT_RETURN_IF_ERROR(CheckRelease(a.assignment));
  PlanTimelines(a);
  std::vector<int64_t> ids;
  for (size_t k : a.reporters) ids.push_back(a.assigned[k].id);
  COHORT_RETURN_IF_ERROR(StartTraining(a.assignment, std::move(ids)));
  COHORT_RETURN_IF_ERROR(PlayEvents(a, callbacks));
  COHORT_RETURN_IF_ERROR(CloseRound(a));
  // Every reporter trained, whether its update was used or not (its
  // personal layers and local test count either way).
  DrainReports(a.reporters.size());
  COHORT_RETURN_IF_ERROR(std::exchange(training_failure_, absl::OkStatus()));
  if (!last_summary_.has_value()) return false;
  VLOG(1) << "round " << committed_ + 1 << " took "
          << absl::ToDoubleSeconds(clock_.Now() - round_start) << " simulated s";
  for (size_t k : a.reporters) a.tally.reporters.push_back(a.assigned[k].id);
  COHORT_RETURN_IF_ERROR(RecordRound(a.tally, callbacks));
  return true;
}

absl::StatusOr<bool> Simulator::Select(RoundAttempt& a, int64_t attempt) {
  base::Random pick(MixKey(config_.seed(), kSelectStream,
                           static_cast<uint64_t>(attempt)));
  std::set<int64_t> tried;
  for (int wait = 0; engine_->phase() == server::RoundPhase::kSelecting; ++wait) {
    COHORT_RETURN_IF_ERROR(CheckInSome(a, pick, tried));
    if (engine_->phase() != server::RoundPhase::kSelecting) break;
    if (wait >= kMaxFailedAttempts) {
      return absl::FailedPreconditionError(absl::StrCat(
          "only ", a.assigned.size(), " clients were reachable for a round "
          "that needs ", options_.min_reports));
    }
    // Too few reachable clients now: wait out the selection timeout.
    clock_.AdvanceTo(clock_.Now() + options_.selection_timeout);
    engine_->RunOnce();
  }
  if (engine_->phase() != server::RoundPhase::kReporting) {
    engine_->RunOnce();
    return false;
  }
  a.round_id = a.assignment.round_id();
  return true;
}

absl::Status Simulator::CheckInSome(RoundAttempt& a, base::Random& pick,
                                    std::set<int64_t>& tried) {
  const int64_t target = options_.selection_target();
  int64_t draws = 0;
  while (engine_->phase() == server::RoundPhase::kSelecting &&
         static_cast<int64_t>(a.assigned.size()) < target &&
         draws++ < 50 * target + 1000) {
    int64_t id = static_cast<int64_t>(pick.Uniform(clients_->population->num_clients()));
    if (tried.contains(id) || !devices_->Available(id, clock_.Seconds())) continue;
    tried.insert(id);
    auto session = transport_->OpenSession();
    COHORT_ASSIGN_OR_RETURN(auto reply, CheckIn(id, *session));
    if (!reply.has_task_assignment()) continue;
    a.assignment = reply.task_assignment();
    a.assigned.push_back({id, std::move(session), {}});
  }
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::ServerMessage> Simulator::CheckIn(
    int64_t id, client::ParticipationSession& session) {
  cohort::v1::CheckIn check_in;
  check_in.set_device_id(DeviceName(id));
  check_in.set_population("sim");
  check_in.mutable_capabilities()->set_clips_statistics_apart(true);
  return session.CheckIn(check_in);
}

ClientTimeline Simulator::PlanClient(int64_t id, int64_t round_id,
                                     int64_t model_bytes) const {
  return devices_->Plan(id, round_id,
                        clients_->personalization->NumTrainExamplesOf(id),
                        options_.plan.epochs(), model_bytes, model_bytes);
}

absl::Status Simulator::CheckRelease(
    const cohort::v1::TaskAssignment& assignment) {
  model::ManifestExpectations expect;
  expect.task = options_.task;
  expect.min_release = highest_release_;
  expect.now = clock_.Now();
  auto m = model::VerifyAssignedModel(*root_, assignment.model(), expect);
  if (!m.ok()) {
    return absl::InternalError(absl::StrCat("round ", assignment.round_id(),
                                            ": the assigned release does not "
                                            "verify: ", m.status().ToString()));
  }
  highest_release_ = m->release();
  return absl::OkStatus();
}

void Simulator::PlanTimelines(RoundAttempt& a) {
  const int64_t model_bytes = a.assignment.model().size_bytes();
  for (auto& p : a.assigned) {
    p.timeline = PlanClient(p.id, a.round_id, model_bytes);
  }
  std::sort(a.assigned.begin(), a.assigned.end(),
            [](const auto& x, const auto& y) {
              return x.timeline.event_s != y.timeline.event_s
                         ? x.timeline.event_s < y.timeline.event_s
                         : x.id < y.id;
            });
  a.t0 = clock_.Now();
  a.deadline_s = absl::ToDoubleSeconds(
      absl::FromUnixMillis(a.assignment.report_deadline_unix_ms()) - a.t0);
  // Reporters: in-time survivors up to the goal. Later ones are closed by
  // the server when the goal is met, so they never upload and need not train.
  for (size_t i = 0; i < a.assigned.size(); ++i) {
    const ClientTimeline& t = a.assigned[i].timeline;
    if (t.drop == DropPhase::kNone && t.event_s <= a.deadline_s &&
        static_cast<int>(a.reporters.size()) < options_.goal_count) {
      a.reporters.push_back(i);
    }
  }
  // Every assigned device downloads the model unless it drops at check-in,
  // including those still training when the round closes.
  for (const auto& p : a.assigned) {
    if (p.timeline.drop != DropPhase::kAfterCheckIn) a.tally.bytes_down += model_bytes;
  }
}

absl::Status Simulator::StartTraining(
    const cohort::v1::TaskAssignment& assignment, std::vector<int64_t> ids) {
  cohort::v1::SimTrainingBatch job;
  *job.mutable_ref() = assignment.model();
  // The resolved plan, as agents receive it (e.g. QAT on for int8 tasks).
  *job.mutable_plan() = assignment.plan();
  job.set_round_id(assignment.round_id());
  // Secure rounds clip the same way before encoding (the encoding's own
  // clip then changes nothing) and count Report.clipped.
  job.set_clip_norm(assignment.clip_norm());
  job.set_statistics_clip_norm(assignment.statistics_clip_norm());
  job.set_evaluate(assignment.evaluate_before_training());
  job.set_release(highest_release_);
  job.set_poisoned_round(poison_.round > 0 && committed_ + 1 >= poison_.round &&
                         committed_ + 1 < int64_t{poison_.round} + poison_.rounds);
  if (training_->distributed()) {
    // Other ranks get the release's bytes once, with their batch.
    COHORT_ASSIGN_OR_RETURN(*job.mutable_model(),
                            Download(job.ref()));
  }
  reports_taken_ = 0;
  return training_->Start(std::move(job), std::move(ids));
}

absl::Status Simulator::PlayEvents(RoundAttempt& a, const Callbacks& callbacks) {
  int64_t done = 0;
  auto report_progress = [&] {
    if (callbacks.on_progress) {
      callbacks.on_progress(committed_ + 1, ++done,
                            static_cast<int64_t>(a.assigned.size()));
    }
  };
  secure_.clear();
  size_t next_reporter = 0;
  for (size_t i = 0; i < a.assigned.size(); ++i) {
    // The round ends at its goal or its deadline; later events never happen.
    if (engine_->phase() != server::RoundPhase::kReporting) break;
    RoundAttempt::Participant& p = a.assigned[i];
    if (p.timeline.event_s > a.deadline_s) {
      // Events are in time order: everyone from here on is still working.
      a.tally.timeouts = static_cast<int64_t>(a.assigned.size() - i);
      break;
    }
    const bool reports = next_reporter < a.reporters.size() &&
                         a.reporters[next_reporter] == i;
    if (p.timeline.drop == DropPhase::kNone && !reports) continue;
    clock_.AdvanceTo(a.t0 + absl::Seconds(p.timeline.event_s));
    if (p.timeline.drop != DropPhase::kNone) ++a.tally.disconnects;
    if (reports && options_.secagg.enabled) {
      // Keeps its session open: its update is due in the secure cohort.
      const size_t reporter = next_reporter++;
      COHORT_RETURN_IF_ERROR(SendReady(p.id, p.session.get(), a.round_id,
                                       [this, reporter] {
                                         return TakeReport(reporter);
                                       }));
      report_progress();
      continue;
    }
    if (reports) {
      auto report = TakeReport(next_reporter++);
      if (report.ok()) Upload(a, i, *std::move(report));
    }
    p.session->Close();
    report_progress();
  }
  return absl::OkStatus();
}

void Simulator::Upload(RoundAttempt& a, size_t i, cohort::v1::Report report) {
  RoundAttempt::Participant& p = a.assigned[i];
  a.tally.bytes_up += static_cast<int64_t>(report.ByteSizeLong());
  auto ack = p.session->Report(report);
  if (!ack.ok()) LOG(WARNING) << DeviceName(p.id) << ": " << ack.status();
}

absl::Status Simulator::CloseRound(RoundAttempt& a) {
  // Close everyone else; a round short of its goal runs to its deadline.
  std::set<int64_t> waiting;
  for (const auto& c : secure_) waiting.insert(c.id);
  for (auto& p : a.assigned) {
    if (!waiting.contains(p.id)) p.session->Close();
  }
  if (engine_->phase() == server::RoundPhase::kReporting) {
    clock_.AdvanceTo(a.t0 + absl::Seconds(a.deadline_s));
  }
  COHORT_RETURN_IF_ERROR(Conclude(a.tally).status());
  for (auto& p : a.assigned) p.session->Close();
  secure_.clear();
  return absl::OkStatus();
}

absl::StatusOr<bool> Simulator::Conclude(RoundTally& tally) {
  last_summary_.reset();
  engine_->RunOnce();
  if (engine_->phase() != server::RoundPhase::kAggregating) return false;
  SecAggTraffic traffic;
  COHORT_RETURN_IF_ERROR(RunSecureAggregation(
      engine_.get(), &clock_, *devices_, options_.secagg.phase_timeout,
      secure_, &traffic));
  tally.bytes_up += traffic.bytes_up;
  tally.bytes_down += traffic.bytes_down;
  return true;
}

absl::Status Simulator::RecordRound(const RoundTally& t,
                                    const Callbacks& callbacks) {
  const server::RoundSummary& s = *last_summary_;
  ++committed_;
  SimRoundRow row;
  row.round = committed_;
  row.sim_seconds = clock_.Seconds();
  row.wall_seconds = WallSeconds() - wall_start_;
  row.participants = s.participants;
  // Timeouts and disconnects as the device model played them; refused
  // reports and SecAgg+ losses as the coordinator counted them.
  row.outcome = s.outcome_columns(abandoned_since_row_);
  row.outcome.drops = {t.timeouts, t.disconnects, s.drops.malformed,
                       s.drops.secagg};
  abandoned_since_row_ = 0;
  row.dropped = row.outcome.drops.lost();
  row.bytes_up = t.bytes_up;
  row.bytes_down = t.bytes_down;
  row.train_loss = s.train_loss;
  auto acc = s.metrics.find("test_accuracy");
  row.test_accuracy = acc == s.metrics.end() ? 0 : acc->second;
  if (clients_->personalization->evaluates()) {
    auto model = engine_->current_model();
    COHORT_ASSIGN_OR_RETURN(
        LocalAccuracy local,
        clients_->personalization->Evaluate(t.reporters, model->architecture,
                                   model->weights, *evaluator_));
    row.local_accuracy = local.global;
    row.personalized_accuracy = local.personalized;
  }
  if (callbacks.on_round) callbacks.on_round(row);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ClientAccuracy>> Simulator::EvaluateClients() {
  std::vector<ClientAccuracy> rows;
  if (!clients_->personalization->evaluates()) return rows;
  auto model = engine_->current_model();
  COHORT_RETURN_IF_ERROR(
      clients_->personalization
          ->Evaluate(clients_->personalization->Trained(), model->architecture,
                     model->weights, *evaluator_, &rows)
          .status());
  return rows;
}

}  // namespace cohort::sim
