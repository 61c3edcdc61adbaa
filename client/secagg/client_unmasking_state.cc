#include <algorithm>

#include "absl/strings/str_cat.h"
#include "client/secagg/secagg_client_state.h"

namespace cohort::secagg {

absl::StatusOr<std::unique_ptr<ClientState>> ClientUnmaskingState::Handle(
    const ServerToClient& message) {
  const auto* msg = std::get_if<UnmaskingRequest>(&message);
  if (msg == nullptr) {
    return absl::FailedPreconditionError(
        "SecAgg client expected UnmaskingRequest");
  }
  ClientContext& c = ctx();
  // 0 unknown, 1 survivor, 2 dropped. A client named in both lists would
  // have both its secrets revealed: refuse.
  std::vector<int> status(c.config.n, 0);
  for (int32_t s : msg->survivors) {
    if (s < 0 || s >= c.config.n || status[s] != 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad survivor id ", s));
    }
    status[s] = 1;
  }
  for (int32_t d : msg->dropped) {
    if (d < 0 || d >= c.config.n || status[d] != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("dropped id ", d, " invalid or also a survivor"));
    }
    status[d] = 2;
  }
  if (status[c.id] != 1) {
    return absl::InvalidArgumentError(
        "UnmaskingRequest does not list this client as a survivor");
  }
  UnmaskingResponse out;
  for (const HeldSharePair& h : c.held) {
    if (status[h.owner] == 0) continue;
    const bool survivor = status[h.owner] == 1;
    const auto bytes = (survivor ? h.seed_share : h.key_share).ToBytes();
    out.shares.push_back(RevealedShare{
        h.owner, survivor ? ShareKind::kSelfMaskSeed : ShareKind::kMaskKey,
        std::vector<uint8_t>(bytes.begin(), bytes.end())});
  }
  c.sender->Send(std::move(out));
  return std::make_unique<ClientCompletedState>(TakeContext());
}

}  // namespace cohort::secagg
