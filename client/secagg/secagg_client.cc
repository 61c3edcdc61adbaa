#include "client/secagg/secagg_client.h"

#include "absl/strings/str_cat.h"

namespace cohort::secagg {

absl::Status CheckInput(const SecAggConfig& config,
                        const std::vector<uint64_t>& input) {
  if (static_cast<int64_t>(input.size()) != config.vector_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input has ", input.size(), " values, expected ", config.vector_length));
  }
  for (uint64_t v : input) {
    if (config.bits < 64 && (v >> config.bits) != 0) {
      return absl::InvalidArgumentError("input value >= 2^bits");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SecAggClient>> SecAggClient::Create(
    const SecAggConfig& config, int id, std::vector<uint64_t> input,
    crypto::SecureRandom* random, ClientSender* sender) {
  if (absl::Status s = CheckInput(config, input); !s.ok()) return s;
  return Create(config, id,
                InputSource([x = std::move(input)]() mutable
                                -> absl::StatusOr<std::vector<uint64_t>> {
                  return std::move(x);
                }),
                random, sender);
}

absl::StatusOr<std::unique_ptr<SecAggClient>> SecAggClient::Create(
    const SecAggConfig& config, int id, InputSource input,
    crypto::SecureRandom* random, ClientSender* sender) {
  if (random == nullptr || sender == nullptr || input == nullptr) {
    return absl::InvalidArgumentError("null random, sender or input");
  }
  if (id < 0 || id >= config.n || config.t < 1 || config.t > config.k ||
      config.bits < 1 || config.bits > 64) {
    return absl::InvalidArgumentError("bad SecAgg client config or id");
  }
  auto graph = SharingGraph::Create(config.n, config.k, config.graph_seed);
  if (!graph.ok()) return graph.status();
  auto ctx = std::make_unique<ClientContext>(config, id, graph->Neighbors(id),
                                             std::move(input), random, sender);
  return std::unique_ptr<SecAggClient>(new SecAggClient(
      std::make_unique<ClientAdvertiseKeysState>(std::move(ctx))));
}

absl::Status SecAggClient::Apply(
    absl::StatusOr<std::unique_ptr<ClientState>> next) {
  if (!next.ok()) {
    error_ = next.status();
    return error_;
  }
  state_ = *std::move(next);
  return absl::OkStatus();
}

absl::Status SecAggClient::Start() {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return absl::FailedPreconditionError("client aborted");
  return Apply(state_->Start());
}

absl::Status SecAggClient::ReceiveMessage(const ServerToClient& message) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return absl::FailedPreconditionError("client aborted");
  return Apply(state_->HandleMessage(message));
}

std::string SecAggClient::StateName() const {
  absl::MutexLock lock(&mu_);
  return error_.ok() ? std::string(state_->Name()) : "Aborted";
}

bool SecAggClient::IsAborted() const { return StateName() == "Aborted"; }
bool SecAggClient::IsCompleted() const { return StateName() == "Completed"; }

absl::Status SecAggClient::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

}  // namespace cohort::secagg
