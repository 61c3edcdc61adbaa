// The simulator's driver for buffered asynchronous tasks (FedBuff): one
// stream of client events on the virtual clock instead of round attempts.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "sim/random_streams.h"
#include "sim/simulator.h"

namespace cohort::sim {

// The clients of a buffered run that hold an assignment, and what the open
// buffer has seen.
struct BufferedFlights {
  struct Flight {
    int64_t id = 0;
    std::unique_ptr<client::ParticipationSession> session;
    int64_t round_id = 0;
    absl::Time due;
    // Leaves without an update: the device model drops it, or it would
    // finish after its assignment's deadline.
    bool drops = false;
    bool late = false;
    // Trained from the version it was given, with every other pending
    // client of its round when the first of them reports (TrainRound).
    std::optional<absl::StatusOr<cohort::v1::Report>> report;
  };
  explicit BufferedFlights(uint64_t seed) : pick(seed) {}
  std::vector<Flight> open;
  // Clients assigned while the open buffer lasts, and those still in
  // flight: each holds one assignment at a time and trains at most once per
  // buffer, so its training draws (keyed by round) never repeat.
  std::set<int64_t> used;
  // The assignment of each round that still has clients in flight.
  std::map<int64_t, cohort::v1::TaskAssignment> assignments;
  // Secure buffers: the sessions of ready clients, until SecAgg+ ends.
  std::vector<std::unique_ptr<client::ParticipationSession>> waiting;
  RoundTally tally;
  base::Random pick;
};

namespace {

// Refills in a row that found no client, and buffers in a row abandoned,
// before the run gives up.
constexpr int kMaxIdleRefills = 20;
constexpr int kMaxFailedBuffers = 20;

}  // namespace

absl::Status Simulator::RunBuffered(const Callbacks& callbacks) {
  // Synchronous attempts key their draws from 1; 0 is this run's.
  BufferedFlights f(MixKey(config_.seed(), kSelectStream, 0));
  int idle = 0;
  while (committed_ < options_.max_rounds &&
         engine_->phase() != server::RoundPhase::kFinished) {
    COHORT_RETURN_IF_ERROR(Refill(f));
    if (f.open.empty()) {
      if (++idle >= kMaxIdleRefills) {
        return absl::FailedPreconditionError(absl::StrCat(
            "no client could be assigned in ", kMaxIdleRefills,
            " tries: too few clients are reachable"));
      }
      clock_.AdvanceTo(clock_.Now() + options_.retry_max);
      engine_->RunOnce();
      continue;
    }
    idle = 0;
    COHORT_RETURN_IF_ERROR(LandNext(f, callbacks));
    if (abandoned_since_row_ >= kMaxFailedBuffers) return GiveUp();
  }
  for (auto& flight : f.open) flight.session->Close();
  return training_->Stop();
}

absl::Status Simulator::Refill(BufferedFlights& f) {
  const int64_t limit = 50 * int64_t{options_.buffered->concurrency} + 1000;
  const size_t first = f.open.size();
  cohort::v1::TaskAssignment assignment;
  for (int64_t draws = 0;
       draws < limit && engine_->phase() == server::RoundPhase::kBuffering;
       ++draws) {
    const int64_t id = static_cast<int64_t>(
        f.pick.Uniform(clients_->population->num_clients()));
    if (f.used.contains(id) || !devices_->Available(id, clock_.Seconds())) {
      continue;
    }
    auto session = transport_->OpenSession();
    COHORT_ASSIGN_OR_RETURN(auto reply, CheckIn(id, *session));
    // Every slot is taken (or the task paused): try again after an event.
    if (!reply.has_task_assignment()) break;
    f.used.insert(id);
    assignment = reply.task_assignment();
    f.open.push_back({.id = id, .session = std::move(session),
                      .round_id = assignment.round_id()});
  }
  if (f.open.size() == first) return absl::OkStatus();
  COHORT_RETURN_IF_ERROR(CheckRelease(assignment));
  // Clients download at check-in: their version stays theirs after the
  // coordinator stops serving it.
  COHORT_RETURN_IF_ERROR(Hold(assignment.model()));
  f.assignments[assignment.round_id()] = assignment;
  const int64_t model_bytes = assignment.model().size_bytes();
  const absl::Time deadline =
      absl::FromUnixMillis(assignment.report_deadline_unix_ms());
  for (size_t i = first; i < f.open.size(); ++i) {
    BufferedFlights::Flight& fl = f.open[i];
    const ClientTimeline t = PlanClient(fl.id, fl.round_id, model_bytes);
    fl.due = clock_.Now() + absl::Seconds(t.event_s);
    fl.drops = t.drop != DropPhase::kNone;
    fl.late = !fl.drops && fl.due > deadline;
    if (t.drop != DropPhase::kAfterCheckIn) f.tally.bytes_down += model_bytes;
  }
  return absl::OkStatus();
}

absl::Status Simulator::Hold(const cohort::v1::ModelRef& ref) {
  {
    absl::MutexLock lock(&downloads_mu_);
    if (downloads_.contains(ref.version())) return absl::OkStatus();
  }
  COHORT_ASSIGN_OR_RETURN(std::string bytes, transport_->FetchModel(ref, "sim"));
  absl::MutexLock lock(&downloads_mu_);
  downloads_[ref.version()] = std::move(bytes);
  return absl::OkStatus();
}

void Simulator::ReleaseUnheld(const BufferedFlights& f) {
  std::set<int64_t> held;
  for (const auto& [round, a] : f.assignments) held.insert(a.model().version());
  absl::MutexLock lock(&downloads_mu_);
  std::erase_if(downloads_, [&](const auto& d) { return !held.contains(d.first); });
}

absl::Status Simulator::TrainRound(BufferedFlights& f, int64_t round_id) {
  std::vector<BufferedFlights::Flight*> pending;
  std::vector<int64_t> ids;
  for (auto& fl : f.open) {
    if (fl.round_id != round_id || fl.drops || fl.late || fl.report) continue;
    pending.push_back(&fl);
    ids.push_back(fl.id);
  }
  auto assignment = f.assignments.find(round_id);
  if (assignment == f.assignments.end()) {
    return absl::InternalError(
        absl::StrCat("round ", round_id, "'s assignment was not kept"));
  }
  COHORT_RETURN_IF_ERROR(StartTraining(assignment->second, std::move(ids)));
  for (size_t k = 0; k < pending.size(); ++k) {
    pending[k]->report = training_->Take(k);
  }
  return absl::OkStatus();
}

absl::Status Simulator::LandNext(BufferedFlights& f,
                                 const Callbacks& callbacks) {
  auto next = std::min_element(
      f.open.begin(), f.open.end(), [](const auto& x, const auto& y) {
        return x.due != y.due ? x.due < y.due : x.id < y.id;
      });
  if (!next->drops && !next->late && !next->report) {
    COHORT_RETURN_IF_ERROR(TrainRound(f, next->round_id));
  }
  BufferedFlights::Flight fl = std::move(*next);
  f.open.erase(next);
  if (std::none_of(f.open.begin(), f.open.end(), [&](const auto& other) {
        return other.round_id == fl.round_id;
      })) {
    f.assignments.erase(fl.round_id);
    ReleaseUnheld(f);
  }
  clock_.AdvanceTo(fl.due);
  engine_->RunOnce();  // assignments past their deadline expire first
  if (fl.drops || fl.late) {
    if (fl.drops) ++f.tally.disconnects;
    fl.session->Close();
    return EndBuffer(f, callbacks);
  }
  COHORT_RETURN_IF_ERROR(fl.report->status());
  cohort::v1::Report report = **std::move(fl.report);
  if (options_.secagg.enabled) {
    COHORT_RETURN_IF_ERROR(SendReady(
        fl.id, fl.session.get(), fl.round_id,
        [r = std::move(report)]() -> absl::StatusOr<cohort::v1::Report> {
          return r;
        }));
    f.tally.reporters.push_back(fl.id);
    f.waiting.push_back(std::move(fl.session));
  } else {
    f.tally.bytes_up += static_cast<int64_t>(report.ByteSizeLong());
    auto ack = fl.session->Report(report);
    // Refused as too stale, or the buffer is closing: the client's work is
    // lost, as an agent's would be.
    if (ack.ok() && ack->accepted()) {
      f.tally.reporters.push_back(fl.id);
    } else {
      VLOG(1) << DeviceName(fl.id) << ": update not used: "
              << (ack.ok() ? ack->message() : ack.status().ToString());
    }
    fl.session->Close();
  }
  if (callbacks.on_progress) {
    callbacks.on_progress(committed_ + 1,
                          static_cast<int64_t>(f.tally.reporters.size()),
                          options_.goal_count);
  }
  return EndBuffer(f, callbacks);
}

absl::Status Simulator::EndBuffer(BufferedFlights& f,
                                  const Callbacks& callbacks) {
  const int64_t abandoned = abandoned_since_row_;
  COHORT_ASSIGN_OR_RETURN(const bool aggregated, Conclude(f.tally));
  if (aggregated) {
    secure_.clear();
    for (auto& session : f.waiting) session->Close();
    f.waiting.clear();
  }
  if (last_summary_.has_value()) {
    f.tally.timeouts = last_summary_->drops.timeout;
    COHORT_RETURN_IF_ERROR(RecordRound(f.tally, callbacks));
  } else if (abandoned_since_row_ == abandoned) {
    return absl::OkStatus();  // the buffer is still open
  }
  // A new buffer is open (after a commit, or a secure buffer abandoned).
  f.tally = RoundTally();
  f.used.clear();
  for (const auto& flight : f.open) f.used.insert(flight.id);
  return absl::OkStatus();
}

}  // namespace cohort::sim
