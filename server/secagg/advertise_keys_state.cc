#include "common/base/status_macros.h"
#include "server/secagg/secagg_server_states.h"

namespace cohort::secagg {

absl::Status AdvertiseKeysServerState::Accept(int from,
                                              const ClientToServer& message) {
  const auto* keys = std::get_if<AdvertiseKeys>(&message);
  if (keys == nullptr) {
    return absl::InvalidArgumentError("out-of-phase message in AdvertiseKeys");
  }
  COHORT_ASSIGN_OR_RETURN(auto enc,
                          crypto::X25519PublicKey::FromBytes(keys->enc_public_key));
  COHORT_ASSIGN_OR_RETURN(
      auto mask, crypto::X25519PublicKey::FromBytes(keys->mask_public_key));
  ctx().enc_keys[from] = enc;
  ctx().mask_keys[from] = mask;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerState>>
AdvertiseKeysServerState::Finish() {
  ServerContext& c = ctx();
  c.u1 = Completed();
  for (int i : c.u1) {
    KeysBroadcast broadcast;
    for (int j : c.graph.Neighbors(i)) {
      if (!c.live[j] || c.reached[j] != 1) continue;
      const auto& e = c.enc_keys[j]->bytes();
      const auto& m = c.mask_keys[j]->bytes();
      broadcast.neighbours.push_back(PeerKeys{
          j, std::vector<uint8_t>(e.begin(), e.end()),
          std::vector<uint8_t>(m.begin(), m.end())});
    }
    c.sender->Send(i, std::move(broadcast));
  }
  return std::make_unique<ShareKeysServerState>(TakeContext());
}

}  // namespace cohort::secagg
