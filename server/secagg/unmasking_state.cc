#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/crypto/aes_ctr_prg.h"
#include "common/secagg/secagg_derivation.h"
#include "common/secagg/shamir.h"
#include "glog/logging.h"
#include "server/secagg/secagg_server_states.h"

namespace cohort::secagg {
namespace {

// Position of `holder` among `owner`'s neighbours, plus one: the Shamir x of
// the share of owner's secrets that holder received.
uint32_t ShareX(const SharingGraph& graph, int owner, int holder) {
  const auto& nb = graph.Neighbors(owner);
  return static_cast<uint32_t>(
      std::lower_bound(nb.begin(), nb.end(), holder) - nb.begin() + 1);
}

}  // namespace

absl::Status UnmaskingServerState::Accept(int from,
                                          const ClientToServer& message) {
  const auto* msg = std::get_if<UnmaskingResponse>(&message);
  if (msg == nullptr) {
    return absl::InvalidArgumentError("out-of-phase message in Unmasking");
  }
  const ServerContext& c = ctx();
  const auto& held = c.delivered_from[from];
  std::vector<bool> seen(c.config.n, false);
  std::vector<HeldShare> accepted;
  for (const RevealedShare& r : msg->shares) {
    const int o = r.owner;
    if (o < 0 || o >= c.config.n ||
        !std::binary_search(held.begin(), held.end(), o) || seen[o]) {
      return absl::InvalidArgumentError(
          absl::StrCat("revealed share of unexpected owner ", o));
    }
    seen[o] = true;
    const ShareKind expected =
        c.in_u3[o] ? ShareKind::kSelfMaskSeed : ShareKind::kMaskKey;
    if (r.kind != expected) {
      return absl::InvalidArgumentError(
          absl::StrCat("wrong kind of share revealed for client ", o));
    }
    COHORT_ASSIGN_OR_RETURN(FieldElement y, FieldElement::FromBytes(r.share));
    accepted.push_back(HeldShare{o, r.kind, y});
  }
  for (const HeldShare& h : accepted) {
    uint8_t& bits = ctx().revealed_kinds[h.owner];
    bits |= h.kind == ShareKind::kSelfMaskSeed ? kRevealedSeedBit
                                               : kRevealedKeyBit;
    CHECK(bits != (kRevealedSeedBit | kRevealedKeyBit))
        << "SecAgg server holds both kinds of shares of client " << h.owner;
  }
  ctx().responses[from] = std::move(accepted);
  return absl::OkStatus();
}

absl::StatusOr<std::array<uint8_t, 32>> UnmaskingServerState::Reconstruct(
    int owner, ShareKind kind) {
  const ServerContext& c = ctx();
  std::vector<ShamirShare> shares;
  for (int holder : c.graph.Neighbors(owner)) {
    if (!c.live[holder] || c.reached[holder] != 4) continue;
    for (const HeldShare& h : c.responses[holder]) {
      if (h.owner == owner && h.kind == kind) {
        shares.push_back(ShamirShare{ShareX(c.graph, owner, holder), h.y});
      }
    }
  }
  if (static_cast<int>(shares.size()) < c.config.t) {
    return absl::AbortedError(absl::StrCat(
        "SecAgg: only ", shares.size(), " shares of client ", owner,
        " arrived, threshold ", c.config.t));
  }
  auto secret = ShamirSecretSharing::Reconstruct(shares, c.config.t);
  if (secret.ok() && static_cast<int>(shares.size()) > c.config.t) {
    // With spare shares, a second, different t-subset must agree; otherwise
    // some responder lied and the sum would be silently wrong.
    const absl::Span<const ShamirShare> tail(
        shares.data() + shares.size() - c.config.t, c.config.t);
    auto check = ShamirSecretSharing::Reconstruct(tail, c.config.t);
    if (!check.ok() || *check != *secret) {
      secret = absl::FailedPreconditionError("two share subsets disagree");
    }
  }
  if (!secret.ok()) {
    return absl::AbortedError(absl::StrCat("SecAgg: shares of client ", owner,
                                           " inconsistent: ",
                                           secret.status().message()));
  }
  return *secret;
}

absl::Status UnmaskingServerState::RemoveSelfMasks(std::vector<uint64_t>& sum) {
  const int bits = ctx().config.bits;
  for (int s : ctx().u3) {
    COHORT_ASSIGN_OR_RETURN(auto seed, Reconstruct(s, ShareKind::kSelfMaskSeed));
    COHORT_ASSIGN_OR_RETURN(auto prg, crypto::AesCtrPrg::Create(seed));
    COHORT_RETURN_IF_ERROR(prg.SubtractModPow2(bits, absl::MakeSpan(sum)));
  }
  return absl::OkStatus();
}

absl::Status UnmaskingServerState::RemovePairwiseMasks(
    std::vector<uint64_t>& sum) {
  const ServerContext& c = ctx();
  for (int d : c.u2) {
    if (c.in_u3[d]) continue;
    COHORT_ASSIGN_OR_RETURN(auto key_bytes, Reconstruct(d, ShareKind::kMaskKey));
    COHORT_ASSIGN_OR_RETURN(auto key,
                            crypto::X25519PrivateKey::FromBytes(key_bytes));
    if (!(key.PublicKey() == *c.mask_keys[d])) {
      return absl::AbortedError(absl::StrCat(
          "SecAgg: reconstructed mask key of client ", d,
          " does not match its advertised key"));
    }
    for (int j : c.graph.Neighbors(d)) {
      // Survivor j masked with d iff it accepted d's share.
      const auto& masked_with = c.delivered_from[j];
      if (!c.in_u3[j] ||
          !std::binary_search(masked_with.begin(), masked_with.end(), d)) {
        continue;
      }
      COHORT_ASSIGN_OR_RETURN(
          auto seed,
          DerivePairwiseSeed(key, *c.mask_keys[j], c.config.round_id, d, j));
      COHORT_ASSIGN_OR_RETURN(auto prg, crypto::AesCtrPrg::Create(seed));
      // Survivor j added the mask if j < d and subtracted it otherwise.
      if (j < d) {
        COHORT_RETURN_IF_ERROR(prg.SubtractModPow2(c.config.bits, absl::MakeSpan(sum)));
      } else {
        COHORT_RETURN_IF_ERROR(prg.AddModPow2(c.config.bits, absl::MakeSpan(sum)));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerState>> UnmaskingServerState::Finish() {
  const SecAggConfig& config = ctx().config;
  const uint64_t mask =
      config.bits == 64 ? ~uint64_t{0} : (uint64_t{1} << config.bits) - 1;
  std::vector<uint64_t> sum(config.vector_length, 0);
  for (int s : ctx().u3) {
    const auto& y = ctx().masked_inputs[s];
    for (size_t i = 0; i < sum.size(); ++i) sum[i] = (sum[i] + y[i]) & mask;
  }
  absl::Status status = RemoveSelfMasks(sum);
  if (status.ok()) status = RemovePairwiseMasks(sum);
  if (!status.ok()) {
    std::fill(sum.begin(), sum.end(), 0);
    if (status.code() != absl::StatusCode::kAborted) {
      status = absl::AbortedError(
          absl::StrCat("SecAgg unmasking failed: ", status.ToString()));
    }
    return Abort(status);
  }
  return std::make_unique<CompletedServerState>(TakeContext(), std::move(sum));
}

}  // namespace cohort::secagg
