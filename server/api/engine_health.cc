#include "server/api/engine_health.h"

#include "absl/strings/str_cat.h"
#include "server/round/round_state.h"

namespace cohort::server {

absl::Status EngineHealth::Check() {
  const int64_t round = engine_->round_id();
  // A commit held for the store is waiting, not stuck: the driver runs.
  if (engine_->phase() != RoundPhase::kCommitting ||
      engine_->waiting_for_store()) {
    commit_.End();
    committing_round_ = 0;
    return absl::OkStatus();
  }
  if (committing_round_ != round) {
    commit_.Begin(absl::StrCat("the commit of round ", round),
                  clock_->Now() + max_commit_);
    committing_round_ = round;
  }
  return commit_.Check();
}

std::string EngineHealth::Describe() const {
  std::string line = absl::StrCat(
      "task ", engine_->task(), ": round ", engine_->round_id(), " ",
      PhaseName(engine_->phase()), "; version ",
      engine_->current_model()->version, "; ", engine_->rounds_committed(),
      " rounds committed");
  if (engine_->paused()) absl::StrAppend(&line, "; paused");
  if (engine_->pinned()) absl::StrAppend(&line, "; pinned");
  if (engine_->waiting_for_store()) {
    absl::StrAppend(&line, "; waiting for the store");
  }
  return line;
}

std::unique_ptr<base::ServiceMonitor> NotifyServing(
    base::ServiceNotifier& notifier, const RoundEngine& engine, int port,
    base::Clock* clock) {
  base::NotifyReady(notifier,
                    absl::StrCat("serving task ", engine.task(), " on port ",
                                 port, "; version ",
                                 engine.current_model()->version));
  auto health = std::make_shared<EngineHealth>(&engine, clock);
  return base::ServiceMonitor::Start(
      &notifier, [health] { return health->Check(); },
      [health] { return health->Describe(); });
}

}  // namespace cohort::server
