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
  ctx().rejected_peers[from] = std::move(accused);
  // Summed now (wrapping mod 2^64, reduced at unmasking): the input itself
  // is not kept.
  std::vector<uint64_t>& sum = ctx().masked_sum;
  if (sum.empty()) sum.assign(msg->masked.size(), 0);
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += msg->masked[i];
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerState>> MaskedInputServerState::Finish() {
  ServerContext& c = ctx();
  // U3: every client whose masked input was accepted (and summed), even
  // one that went away since. A reported forged share drops nobody: the
  // accuser masked with its sender all the same and holds no share of it.
  c.u3.clear();
  for (int i = 0; i < c.config.n; ++i) {
    if (c.reached[i] == phase()) c.u3.push_back(i);
  }
  if (static_cast<int>(c.u3.size()) < Threshold()) {
    return Abort(absl::AbortedError(absl::StrCat(
                     "SecAgg: only ", c.u3.size(), " masked inputs, threshold ",
                     Threshold())),
                 static_cast<int>(c.u3.size()), Threshold());
  }
  c.in_u3.assign(c.config.n, false);
  for (int i : c.u3) c.in_u3[i] = true;
  UnmaskingRequest request;
  request.survivors.assign(c.u3.begin(), c.u3.end());
  for (int i : c.u2) {
    if (!c.in_u3[i]) request.dropped.push_back(i);
  }
  for (int i : c.u3) {
    if (c.live[i]) c.sender->Send(i, request);
  }
  return std::make_unique<UnmaskingServerState>(TakeContext());
}

}  // namespace cohort::secagg
