#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/secagg/secagg_server_states.h"

namespace cohort::secagg {

absl::Status MaskedInputServerState::Accept(int from,
                                            const ClientToServer& message) {
  const auto* msg = std::get_if<MaskedInput>(&message);
  if (msg == nullptr) {
    return absl::InvalidArgumentError(
        "out-of-phase message in MaskedInputCollection");
  }
  const SecAggConfig& config = ctx().config;
  if (static_cast<int64_t>(msg->masked.size()) != config.vector_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("masked input has ", msg->masked.size(),
                     " values, expected ", config.vector_length));
  }
  if (config.bits < 64) {
    for (uint64_t v : msg->masked) {
      if (v >> config.bits) {
        return absl::InvalidArgumentError("masked value out of range");
      }
    }
  }
  const auto& delivered = ctx().delivered_from[from];
  std::vector<int32_t> accused = msg->rejected_peers;
  std::sort(accused.begin(), accused.end());
  for (size_t i = 0; i < accused.size(); ++i) {
    if ((i > 0 && accused[i] == accused[i - 1]) ||
        !std::binary_search(delivered.begin(), delivered.end(), accused[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad rejected peer ", accused[i]));
    }
  }
  ctx().masked_inputs[from] = msg->masked;
  ctx().rejected_peers[from] = std::move(accused);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerState>> MaskedInputServerState::Finish() {
  ServerContext& c = ctx();
  // A reported forged share drops its sender: the accuser did not mask with
  // it, so its input cannot be summed; its mask key will be recovered.
  for (int i : Completed()) {
    for (int j : c.rejected_peers[i]) {
      auto& d = c.delivered_from[i];
      d.erase(std::remove(d.begin(), d.end(), j), d.end());
      c.live[j] = false;
    }
  }
  c.u3 = Completed();
  if (static_cast<int>(c.u3.size()) < Threshold()) {
    return Abort(absl::AbortedError(absl::StrCat(
                     "SecAgg: only ", c.u3.size(),
                     " masked inputs left after forged-share reports, "
                     "threshold ", Threshold())),
                 static_cast<int>(c.u3.size()), Threshold());
  }
  c.in_u3.assign(c.config.n, false);
  for (int i : c.u3) c.in_u3[i] = true;
  UnmaskingRequest request;
  request.survivors.assign(c.u3.begin(), c.u3.end());
  for (int i : c.u2) {
    if (!c.in_u3[i]) {
      request.dropped.push_back(i);
      c.masked_inputs[i].clear();  // a dropped replayer's input is not used
    }
  }
  for (int i : c.u3) c.sender->Send(i, request);
  return std::make_unique<UnmaskingServerState>(TakeContext());
}

}  // namespace cohort::secagg
