#include "client/secagg/secagg_client_state.h"
#include "common/base/status_macros.h"

namespace cohort::secagg {

absl::StatusOr<std::unique_ptr<ClientState>> ClientState::HandleMessage(
    const ServerToClient& message) {
  if (std::holds_alternative<AbortRound>(message)) {
    return std::make_unique<ClientAbortedState>(TakeContext());
  }
  if (IsTerminal()) {
    return absl::FailedPreconditionError(
        "SecAgg client received a message after the protocol ended");
  }
  return Handle(message);
}

absl::StatusOr<std::unique_ptr<ClientState>> ClientAdvertiseKeysState::Start() {
  ClientContext& c = ctx();
  COHORT_ASSIGN_OR_RETURN(auto enc, crypto::X25519PrivateKey::Generate(*c.random));
  COHORT_ASSIGN_OR_RETURN(auto mask,
                          crypto::X25519PrivateKey::Generate(*c.random));
  COHORT_RETURN_IF_ERROR(c.random->Fill(absl::MakeSpan(c.self_seed)));
  const auto& e = enc.PublicKey().bytes();
  const auto& m = mask.PublicKey().bytes();
  c.enc_key = std::move(enc);
  c.mask_key = std::move(mask);
  c.sender->Send(AdvertiseKeys{std::vector<uint8_t>(e.begin(), e.end()),
                               std::vector<uint8_t>(m.begin(), m.end())});
  return std::make_unique<ClientShareKeysState>(TakeContext());
}

}  // namespace cohort::secagg
