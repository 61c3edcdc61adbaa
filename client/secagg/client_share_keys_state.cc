#include <algorithm>

#include "absl/strings/str_cat.h"
#include "client/secagg/secagg_client_state.h"
#include "common/base/status_macros.h"
#include "common/crypto/aes_gcm.h"
#include "common/secagg/secagg_derivation.h"
#include "common/secagg/shamir.h"

namespace cohort::secagg {
namespace {

absl::Status ParseBroadcast(ClientContext& c, const KeysBroadcast& msg) {
  std::vector<bool> seen(c.config.n, false);
  for (const PeerKeys& p : msg.neighbours) {
    if (p.id < 0 || p.id >= c.config.n || c.Slot(p.id) < 0 || seen[p.id]) {
      return absl::InvalidArgumentError(
          absl::StrCat("KeysBroadcast names unexpected client ", p.id));
    }
    seen[p.id] = true;
    COHORT_ASSIGN_OR_RETURN(auto e,
                            crypto::X25519PublicKey::FromBytes(p.enc_public_key));
    COHORT_ASSIGN_OR_RETURN(
        auto m, crypto::X25519PublicKey::FromBytes(p.mask_public_key));
    const int slot = c.Slot(p.id);
    c.enc_peer[slot] = e;
    c.mask_peer[slot] = m;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClientState>> ClientShareKeysState::Handle(
    const ServerToClient& message) {
  const auto* msg = std::get_if<KeysBroadcast>(&message);
  if (msg == nullptr) {
    return absl::FailedPreconditionError(
        "SecAgg client expected KeysBroadcast");
  }
  ClientContext& c = ctx();
  COHORT_RETURN_IF_ERROR(ParseBroadcast(c, *msg));
  if (static_cast<int>(msg->neighbours.size()) < c.config.t) {
    return absl::AbortedError(absl::StrCat(
        "only ", msg->neighbours.size(), " neighbours advertised keys, t = ",
        c.config.t));
  }
  auto rng = [&](absl::Span<uint8_t> b) { return c.random->Fill(b); };
  const int k = static_cast<int>(c.neighbors.size());
  COHORT_ASSIGN_OR_RETURN(
      auto seed_shares,
      ShamirSecretSharing::Share(c.self_seed, c.config.t, k, rng));
  COHORT_ASSIGN_OR_RETURN(
      auto key_shares,
      ShamirSecretSharing::Share(c.mask_key->bytes(), c.config.t, k, rng));
  const auto& nb = c.neighbors;
  ShareKeys out;
  for (size_t idx = 0; idx < nb.size(); ++idx) {
    const int j = nb[idx];
    if (!c.enc_peer[idx].has_value()) continue;
    auto key = DeriveShareKey(*c.enc_key, *c.enc_peer[idx], c.config.round_id,
                              c.id, j);
    if (!key.ok()) continue;  // a low-order key: treat j as absent
    std::vector<uint8_t> plain;
    PutU32(plain, c.id);
    PutU32(plain, j);
    const auto s = seed_shares[idx].y.ToBytes();
    const auto kk = key_shares[idx].y.ToBytes();
    plain.insert(plain.end(), s.begin(), s.end());
    plain.insert(plain.end(), kk.begin(), kk.end());
    const auto nonce = ShareNonce(c.id);
    const std::string ad = ShareAssociatedData(c.config.round_id, c.id, j);
    COHORT_ASSIGN_OR_RETURN(
        auto sealed, crypto::AesGcmSeal(*key, nonce, plain,
                                        internal::AsBytes(ad)));
    out.shares.push_back(EncryptedShare{j, std::move(sealed)});
    c.sent_to.push_back(j);
  }
  c.sender->Send(std::move(out));
  return std::make_unique<ClientMaskedInputState>(TakeContext());
}

}  // namespace cohort::secagg
