#include "server/secagg/secagg_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/secagg/secagg_server_states.h"

namespace cohort::secagg {

absl::StatusOr<std::unique_ptr<SecAggServer>> SecAggServer::Create(
    const SecAggConfig& config, ServerSender* sender, int threads) {
  if (sender == nullptr) return absl::InvalidArgumentError("null sender");
  if (config.t < 1 || config.t > config.k) {
    return absl::InvalidArgumentError(
        absl::StrCat("threshold ", config.t, " outside [1, k=", config.k, "]"));
  }
  if (config.bits < 1 || config.bits > 64 || config.vector_length < 1) {
    return absl::InvalidArgumentError("bad bits or vector length");
  }
  auto graph = SharingGraph::Create(config.n, config.k, config.graph_seed);
  if (!graph.ok()) return graph.status();
  auto ctx = std::make_unique<ServerContext>(config, *std::move(graph), sender);
  ctx->threads = std::max(1, threads);
  return std::unique_ptr<SecAggServer>(new SecAggServer(
      std::make_unique<AdvertiseKeysServerState>(std::move(ctx))));
}

void SecAggServer::Transition(
    absl::StatusOr<std::unique_ptr<ServerState>> next) {
  if (!next.ok()) {
    // A local failure (OpenSSL) after the phase ended: abort, release nothing.
    // The state still owns the context only if it did not hand it on.
    LOG(ERROR) << "SecAgg server failure: " << next.status();
    return;
  }
  if (*next != nullptr) state_ = *std::move(next);
}

absl::Status SecAggServer::ReceiveMessage(int from,
                                          const ClientToServer& message) {
  absl::MutexLock lock(&mu_);
  // The context (and its last_rejection) moves to the next state, if any.
  Transition(state_->HandleMessage(from, message));
  return state_->context().last_rejection;
}

void SecAggServer::ClientGone(int client) {
  absl::MutexLock lock(&mu_);
  Transition(state_->HandleGone(client));
}

absl::Status SecAggServer::ProceedToNext() {
  absl::MutexLock lock(&mu_);
  Transition(state_->ProceedToNext());
  return absl::OkStatus();
}

std::string SecAggServer::StateName() const {
  absl::MutexLock lock(&mu_);
  return std::string(state_->Name());
}

bool SecAggServer::IsCompleted() const {
  absl::MutexLock lock(&mu_);
  return dynamic_cast<const CompletedServerState*>(state_.get()) != nullptr;
}

bool SecAggServer::IsAborted() const {
  absl::MutexLock lock(&mu_);
  return dynamic_cast<const AbortedServerState*>(state_.get()) != nullptr;
}

absl::Status SecAggServer::AbortStatus() const {
  absl::MutexLock lock(&mu_);
  const auto* aborted = dynamic_cast<const AbortedServerState*>(state_.get());
  return aborted == nullptr ? absl::OkStatus() : aborted->status();
}

std::optional<AbortInfo> SecAggServer::abort_info() const {
  absl::MutexLock lock(&mu_);
  const AbortInfo* info = state_->abort_info();
  if (info == nullptr) return std::nullopt;
  return *info;
}

int SecAggServer::LiveCount() const {
  absl::MutexLock lock(&mu_);
  int live = 0;
  for (bool l : state_->context().live) live += l;
  return live;
}

std::array<int, 4> SecAggServer::DroppedByPhase() const {
  absl::MutexLock lock(&mu_);
  const ServerContext& c = state_->context();
  std::array<int, 4> dropped{};
  for (size_t i = 0; i < c.live.size(); ++i) {
    if (!c.live[i]) ++dropped[std::clamp(c.dropped_in[i] - 1, 0, 3)];
  }
  return dropped;
}

absl::StatusOr<std::vector<uint64_t>> SecAggServer::Result() const {
  absl::MutexLock lock(&mu_);
  const auto* done = dynamic_cast<const CompletedServerState*>(state_.get());
  if (done == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("SecAgg round is in ", std::string(state_->Name()), ", no sum"));
  }
  return done->sum();
}

std::vector<int> SecAggServer::Contributors() const {
  absl::MutexLock lock(&mu_);
  if (dynamic_cast<const CompletedServerState*>(state_.get()) == nullptr) {
    return {};
  }
  return state_->context().u3;
}

bool SecAggServer::IsDropped(int client) const {
  absl::MutexLock lock(&mu_);
  const auto& live = state_->context().live;
  return client < 0 || client >= static_cast<int>(live.size()) || !live[client];
}

UnmaskingTimings SecAggServer::unmasking_timings() const {
  absl::MutexLock lock(&mu_);
  return state_->context().unmasking_timings;
}

std::vector<uint8_t> SecAggServer::RevealedShareKindsForTesting() const {
  absl::MutexLock lock(&mu_);
  return state_->context().revealed_kinds;
}

}  // namespace cohort::secagg
