#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/secagg/secagg_derivation.h"
#include "server/secagg/secagg_server_states.h"

namespace cohort::secagg {

absl::Status ShareKeysServerState::Accept(int from,
                                          const ClientToServer& message) {
  const auto* msg = std::get_if<ShareKeys>(&message);
  if (msg == nullptr) {
    return absl::InvalidArgumentError("out-of-phase message in ShareKeys");
  }
  const ServerContext& c = ctx();
  std::vector<bool> seen(c.config.n, false);
  for (const EncryptedShare& share : msg->shares) {
    const int to = share.peer;
    if (to < 0 || to >= c.config.n || to == from ||
        !c.graph.AreNeighbors(from, to) || c.reached[to] < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("share addressed to non-neighbour ", to));
    }
    if (seen[to]) {
      return absl::InvalidArgumentError(
          absl::StrCat("two shares addressed to ", to));
    }
    seen[to] = true;
    if (share.ciphertext.size() != kShareCiphertextSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "share ciphertext has ", share.ciphertext.size(), " bytes"));
    }
  }
  ctx().pending_shares[from] = msg->shares;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerState>> ShareKeysServerState::Finish() {
  ServerContext& c = ctx();
  c.u2 = Completed();
  c.in_u2.assign(c.config.n, false);
  for (int i : c.u2) c.in_u2[i] = true;
  // sent[i] lists the recipients i addressed; a pair is routed only if both
  // directions were sent, which makes the pairwise-mask graph symmetric.
  std::vector<std::vector<int>> sent(c.config.n);
  for (int i : c.u2) {
    for (const auto& s : c.pending_shares[i]) sent[i].push_back(s.peer);
    std::sort(sent[i].begin(), sent[i].end());
  }
  std::vector<SharesDelivery> deliveries(c.config.n);
  for (int i : c.u2) {
    for (auto& share : c.pending_shares[i]) {
      const int to = share.peer;
      if (!c.in_u2[to] ||
          !std::binary_search(sent[to].begin(), sent[to].end(), i)) {
        continue;
      }
      c.delivered_from[to].push_back(i);
      deliveries[to].shares.push_back(
          EncryptedShare{i, std::move(share.ciphertext)});
    }
    c.pending_shares[i].clear();
  }
  for (int i : c.u2) {
    std::sort(c.delivered_from[i].begin(), c.delivered_from[i].end());
    c.sender->Send(i, std::move(deliveries[i]));
  }
  return std::make_unique<MaskedInputServerState>(TakeContext());
}

}  // namespace cohort::secagg
