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
  ctx().masked_inputs[from] = msg->masked;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerState>> MaskedInputServerState::Finish() {
  ServerContext& c = ctx();
  c.u3 = Completed();
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
