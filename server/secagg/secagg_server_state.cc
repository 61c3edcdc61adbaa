#include "server/secagg/secagg_server_state.h"

#include "absl/strings/str_cat.h"

namespace cohort::secagg {

absl::StatusOr<std::unique_ptr<ServerState>> ServerState::HandleMessage(
    int from, const ClientToServer& message) {
  ctx_->last_rejection = absl::OkStatus();
  if (from < 0 || from >= ctx_->config.n) {
    ctx_->last_rejection = absl::InvalidArgumentError(
        absl::StrCat("unknown SecAgg client id ", from));
    return nullptr;
  }
  if (IsTerminal()) {
    ctx_->last_rejection = absl::FailedPreconditionError(
        absl::StrCat("SecAgg round already ", std::string(Name())));
    return nullptr;
  }
  if (!ctx_->live[from]) {
    ctx_->last_rejection =
        absl::FailedPreconditionError("client was already dropped");
    return nullptr;
  }
  if (ctx_->reached[from] != phase() - 1) {
    // Either a replay of a message this phase already accepted, or a client
    // that is not part of this phase: both drop the sender.
    Drop(from, absl::InvalidArgumentError(absl::StrCat(
                   "replayed or out-of-phase message in ", std::string(Name()))));
  } else if (absl::Status s = Accept(from, message); !s.ok()) {
    Drop(from, s);
  } else {
    ctx_->reached[from] = phase();
  }
  return AfterChange();
}

absl::StatusOr<std::unique_ptr<ServerState>> ServerState::HandleGone(
    int client) {
  if (client < 0 || client >= ctx_->config.n || IsTerminal() ||
      !ctx_->live[client]) {
    return nullptr;
  }
  const absl::Status kept = ctx_->last_rejection;
  Drop(client, absl::CancelledError("client went away"));
  ctx_->last_rejection = kept;
  return AfterChange();
}

absl::StatusOr<std::unique_ptr<ServerState>> ServerState::AfterChange() {
  int live = 0;
  for (bool l : ctx_->live) live += l;
  if (live < Threshold()) {
    return Abort(absl::AbortedError(absl::StrCat(
                     "SecAgg: only ", live, " live clients in ",
                     std::string(Name()), ", threshold ", Threshold())),
                 live, Threshold());
  }
  if (!AnyPending()) return ProceedToNext();
  return nullptr;
}

absl::StatusOr<std::unique_ptr<ServerState>> ServerState::ProceedToNext() {
  if (IsTerminal()) return nullptr;
  for (int i = 0; i < ctx_->config.n; ++i) {
    if (ctx_->live[i] && ctx_->reached[i] == phase() - 1) {
      Drop(i, absl::DeadlineExceededError(
                  absl::StrCat("no message before the ", std::string(Name()), " deadline")));
    }
  }
  const int done = static_cast<int>(Completed().size());
  if (done < Threshold()) {
    return Abort(absl::AbortedError(absl::StrCat(
                     "SecAgg: only ", done, " clients completed ",
                     std::string(Name()), ", threshold ", Threshold())),
                 done, Threshold());
  }
  return Finish();
}

void ServerState::Drop(int client, const absl::Status& why) {
  if (ctx_->live[client]) ctx_->dropped_in[client] = phase();
  ctx_->live[client] = false;
  ctx_->last_rejection = why;
}

std::vector<int> ServerState::Completed() const {
  std::vector<int> out;
  for (int i = 0; i < ctx_->config.n; ++i) {
    if (ctx_->live[i] && ctx_->reached[i] == phase()) out.push_back(i);
  }
  return out;
}

bool ServerState::AnyPending() const {
  for (int i = 0; i < ctx_->config.n; ++i) {
    if (ctx_->live[i] && ctx_->reached[i] == phase() - 1) return true;
  }
  return false;
}

std::unique_ptr<ServerState> ServerState::Abort(absl::Status why,
                                                int survivors, int threshold) {
  for (int i = 0; i < ctx_->config.n; ++i) {
    if (ctx_->live[i]) ctx_->sender->Send(i, AbortRound{why.ToString()});
  }
  // Discard everything a partial result could be computed from.
  std::vector<uint64_t>().swap(ctx_->masked_sum);
  for (auto& r : ctx_->responses) r.clear();
  AbortInfo info{std::string(Name()), survivors, threshold, std::move(why)};
  return std::make_unique<AbortedServerState>(TakeContext(), std::move(info));
}

}  // namespace cohort::secagg
