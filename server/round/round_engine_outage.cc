#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "server/round/round_engine.h"
#include "server/store/store_util.h"

// RoundEngine while its store is away: check-ins are refused with
// UNAVAILABLE, and a round whose commit found the store away keeps its
// result and commits it when the store returns. Driver thread, except the
// thread-safe accessors.

namespace cohort::server {

absl::Status RoundEngine::StoreStatus() const {
  absl::MutexLock lock(&mu_);
  if (held_commit_error_.ok() && store_health_.ok()) return absl::OkStatus();
  // Devices are not told the store's own error: it names the database.
  return absl::UnavailableError(
      "the coordinator's store is unavailable; rounds are paused, retry later");
}

void RoundEngine::SetStoreHealth(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  // Only an absent store pauses rounds; any other probe error is the
  // probe's own.
  store_health_ = IsStoreAway(status) ? status : absl::OkStatus();
}

bool RoundEngine::waiting_for_store() const {
  absl::MutexLock lock(&mu_);
  return !held_commit_error_.ok() && !held_attempt_running_;
}

bool RoundEngine::HoldForStore(RoundResult result, const absl::Status& status) {
  LOG(ERROR) << "round " << result.round_id
             << ": the store is away; holding the round's result until it "
                "returns: "
             << status;
  held_commit_.emplace(HeldCommit{.result = std::move(result),
                                  .next_try = clock_->Now(),
                                  .backoff = kFirstCommitRetry});
  {
    absl::MutexLock lock(&mu_);
    held_commit_error_ = status;
  }
  // An in-doubt commit may have landed: finding out needs no wait.
  return RetryHeldCommit();
}

bool RoundEngine::RetryHeldCommit() {
  // Field monitoring may have condemned the current version while its
  // rollback could not reach the store: judge again before committing.
  if (std::optional<RoundSummary> rolled_back = MaybeAutoRollback()) {
    EndHold();  // the round's result is dropped, as on any auto-rollback
    return Advance(*std::move(rolled_back));
  }
  {
    absl::MutexLock lock(&mu_);
    held_attempt_running_ = true;
  }
  HeldCommit& held = *held_commit_;
  auto committed = TryHeldCommit();
  if (!committed.ok() && IsStoreAway(committed.status())) {
    held.next_try = clock_->Now() + held.backoff;
    held.backoff = std::min(2 * held.backoff, kMaxCommitRetry);
    // Once per attempt: the backoff bounds the rate, and a store that keeps
    // timing out must stay visible.
    LOG(WARNING) << "round " << held.result.round_id
                 << ": still waiting for the store: " << committed.status();
    absl::MutexLock lock(&mu_);
    held_commit_error_ = committed.status();
    held_attempt_running_ = false;
    return true;
  }
  RoundResult result = EndHold();
  if (committed.ok()) {
    LOG(INFO) << "round " << result.round_id
              << ": committed now that the store is back";
  }
  return EndCommit(result, std::move(committed));
}

RoundResult RoundEngine::EndHold() {
  RoundResult result = std::move(held_commit_->result);
  held_commit_.reset();
  absl::MutexLock lock(&mu_);
  held_commit_error_ = absl::OkStatus();
  held_attempt_running_ = false;
  store_health_ = absl::OkStatus();  // it just answered
  return result;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>>
RoundEngine::TryHeldCommit() {
  const RoundResult& result = held_commit_->result;
  const int64_t parent = result.parent->version;
  // An earlier attempt may have landed after all: an unknown COMMIT
  // outcome, or a release that failed after the version was stored.
  COHORT_ASSIGN_OR_RETURN(int64_t last_round, store_->LastRoundId(options_.task));
  COHORT_ASSIGN_OR_RETURN(auto current, store_->GetCurrent(options_.task));
  if (current.has_value() && current->version != parent) {
    if (current->round_id == result.round_id && current->parent == parent) {
      LOG(WARNING) << "round " << result.round_id << ": version "
                   << current->version
                   << " was stored by an earlier attempt; adopting it";
      return LoadStoredHead(*current);
    }
    ReconcileWithStore();
    if (current_model()->version == parent) {
      return absl::UnavailableError(absl::StrCat(
          "cannot adopt stored version ", current->version, " yet"));
    }
    return absl::AbortedError(absl::StrCat(
        "the store moved to version ", current->version, " while round ",
        result.round_id, " waited; adopted it instead"));
  }
  if (last_round >= result.round_id) {
    // Stored but not current: the gate held it, in an attempt whose
    // outcome was unknown. Its privacy cost is in the store already.
    COHORT_RETURN_IF_ERROR(committer_.LoadPrivacyRounds());
    return absl::AbortedError(absl::StrCat(
        "round ", result.round_id,
        " was stored as a held version by an earlier attempt; it is not "
        "stored twice"));
  }
  return committer_.Commit(result);
}

}  // namespace cohort::server
