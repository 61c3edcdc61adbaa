#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/crypto/aes_ctr_prg.h"
#include "common/secagg/secagg_derivation.h"
#include "common/secagg/shamir.h"
#include "glog/logging.h"
#include "server/secagg/secagg_server_states.h"

namespace cohort::secagg {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Position of `holder` among `owner`'s neighbours, plus one: the Shamir x of
// the share of owner's secrets that holder received.
uint32_t ShareX(const SharingGraph& graph, int owner, int holder) {
  const auto& nb = graph.Neighbors(owner);
  return static_cast<uint32_t>(
      std::lower_bound(nb.begin(), nb.end(), holder) - nb.begin() + 1);
}

// Lagrange coefficients by share-point set. With no dropouts every owner's
// shares sit at the same points, so one set serves all n secrets; with
// dropouts the sets differ, and each is still computed only once.
class LagrangeCache {
 public:
  absl::StatusOr<const LagrangeAtZero*> Get(std::vector<uint32_t> xs) {
    auto it = sets_.find(xs);
    if (it == sets_.end()) {
      COHORT_ASSIGN_OR_RETURN(LagrangeAtZero l, LagrangeAtZero::Create(xs));
      it = sets_.emplace(std::move(xs), std::move(l)).first;
    }
    return &it->second;
  }
  int size() const { return static_cast<int>(sets_.size()); }

 private:
  std::map<std::vector<uint32_t>, LagrangeAtZero> sets_;
};

// Every revealed share of `kind`, bucketed by owner, from the clients that
// finished Unmasking, in increasing holder (hence x) order. One pass over
// the responses instead of a search per owner and holder.
std::vector<std::vector<ShamirShare>> SharesByOwner(const ServerContext& c,
                                                    ShareKind kind) {
  std::vector<std::vector<ShamirShare>> by_owner(c.config.n);
  for (int holder = 0; holder < c.config.n; ++holder) {
    if (!c.live[holder] || c.reached[holder] != 4) continue;
    for (const HeldShare& h : c.responses[holder]) {
      if (h.kind != kind) continue;
      by_owner[h.owner].push_back(
          ShamirShare{ShareX(c.graph, h.owner, holder), h.y});
    }
  }
  return by_owner;
}

absl::StatusOr<std::array<uint8_t, 32>> Interpolate(
    absl::Span<const ShamirShare> shares, LagrangeCache& cache) {
  std::vector<uint32_t> xs;
  std::vector<FieldElement> ys;
  for (const ShamirShare& s : shares) {
    xs.push_back(s.x);
    ys.push_back(s.y);
  }
  COHORT_ASSIGN_OR_RETURN(const LagrangeAtZero* lagrange, cache.Get(xs));
  return lagrange->Interpolate(ys).ToSecretBytes();
}

// The secret of `owner` from its revealed shares. ABORTED with fewer than t
// shares, or when two t-subsets disagree (some responder lied: the sum
// would be silently wrong) or give a value that is no 32-byte secret.
absl::StatusOr<std::array<uint8_t, 32>> ReconstructSecret(
    int owner, absl::Span<const ShamirShare> shares, int t,
    LagrangeCache& cache) {
  if (static_cast<int>(shares.size()) < t) {
    return absl::AbortedError(absl::StrCat("SecAgg: only ", shares.size(),
                                           " shares of client ", owner,
                                           " arrived, threshold ", t));
  }
  auto secret = Interpolate(shares.subspan(0, t), cache);
  if (secret.ok() && static_cast<int>(shares.size()) > t) {
    auto check = Interpolate(shares.subspan(shares.size() - t), cache);
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

// Applies the masks in one fused pass and wipes the seeds.
absl::Status ApplyMasks(std::vector<crypto::MaskSeed>& masks, int bits,
                        std::vector<uint64_t>& sum, UnmaskingTimings& timings) {
  const auto t0 = Clock::now();
  absl::Status s = crypto::AddMasks(masks, bits, absl::MakeSpan(sum));
  timings.mask_expansion_ms += MsSince(t0);
  timings.masks_removed += static_cast<int>(masks.size());
  OPENSSL_cleanse(masks.data(), masks.size() * sizeof(crypto::MaskSeed));
  return s;
}

// Shares that arrived for the worst-off secret Unmasking needs (the
// survivors' self-mask seeds, the mask keys of clients that dropped after
// sharing): what an abort reports against the threshold t.
int FewestShares(const ServerContext& c) {
  const auto seeds = SharesByOwner(c, ShareKind::kSelfMaskSeed);
  const auto keys = SharesByOwner(c, ShareKind::kMaskKey);
  int fewest = -1;
  for (int owner : c.u2) {
    const int held = static_cast<int>(
        (c.in_u3[owner] ? seeds[owner] : keys[owner]).size());
    if (fewest < 0 || held < fewest) fewest = held;
  }
  return std::max(fewest, 0);
}

}  // namespace

absl::Status UnmaskingServerState::Accept(int from,
                                          const ClientToServer& message) {
  const auto* msg = std::get_if<UnmaskingResponse>(&message);
  if (msg == nullptr) {
    return absl::InvalidArgumentError("out-of-phase message in Unmasking");
  }
  const ServerContext& c = ctx();
  std::vector<bool> seen(c.config.n, false);
  std::vector<HeldShare> accepted;
  for (const RevealedShare& r : msg->shares) {
    const int o = r.owner;
    if (o < 0 || o >= c.config.n ||
        !c.HoldsShareOf(from, o) || seen[o]) {
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
  LagrangeCache cache;
  return ReconstructSecret(owner, SharesByOwner(ctx(), kind)[owner],
                           ctx().config.t, cache);
}

absl::Status UnmaskingServerState::RemoveSelfMasks(std::vector<uint64_t>& sum) {
  ServerContext& c = ctx();
  UnmaskingTimings& timings = c.unmasking_timings;
  auto t0 = Clock::now();
  const auto shares = SharesByOwner(c, ShareKind::kSelfMaskSeed);
  LagrangeCache cache;
  std::vector<crypto::MaskSeed> masks;
  masks.reserve(c.u3.size());
  absl::Status status;
  for (int s : c.u3) {
    auto seed = ReconstructSecret(s, shares[s], c.config.t, cache);
    if (!seed.ok()) {
      status = seed.status();
      break;
    }
    masks.push_back(crypto::MaskSeed{*seed, /*subtract=*/true});
    OPENSSL_cleanse(seed->data(), seed->size());
  }
  timings.reconstruction_ms += MsSince(t0);
  timings.secrets_reconstructed += static_cast<int>(masks.size());
  timings.lagrange_sets += cache.size();
  if (status.ok()) status = ApplyMasks(masks, c.config.bits, sum, timings);
  OPENSSL_cleanse(masks.data(), masks.size() * sizeof(crypto::MaskSeed));
  return status;
}

absl::Status UnmaskingServerState::RemovePairwiseMasks(
    std::vector<uint64_t>& sum) {
  ServerContext& c = ctx();
  UnmaskingTimings& timings = c.unmasking_timings;
  const auto shares = SharesByOwner(c, ShareKind::kMaskKey);
  LagrangeCache cache;
  std::vector<crypto::MaskSeed> masks;
  absl::Status status;
  for (int d : c.u2) {
    if (c.in_u3[d]) continue;
    auto t0 = Clock::now();
    auto key_bytes = ReconstructSecret(d, shares[d], c.config.t, cache);
    timings.reconstruction_ms += MsSince(t0);
    if (!key_bytes.ok()) {
      status = key_bytes.status();
      break;
    }
    ++timings.secrets_reconstructed;
    t0 = Clock::now();
    status = [&]() -> absl::Status {
      COHORT_ASSIGN_OR_RETURN(auto key,
                              crypto::X25519PrivateKey::FromBytes(*key_bytes));
      if (!(key.PublicKey() == *c.mask_keys[d])) {
        return absl::AbortedError(absl::StrCat(
            "SecAgg: reconstructed mask key of client ", d,
            " does not match its advertised key"));
      }
      for (int j : c.graph.Neighbors(d)) {
        // Survivor j masked with d iff d's share was routed to it.
        const auto& masked_with = c.delivered_from[j];
        if (!c.in_u3[j] ||
            !std::binary_search(masked_with.begin(), masked_with.end(), d)) {
          continue;
        }
        COHORT_ASSIGN_OR_RETURN(
            auto seed,
            DerivePairwiseSeed(key, *c.mask_keys[j], c.config.round_id, d, j));
        // Survivor j added the mask if j < d and subtracted it otherwise;
        // removing it does the opposite.
        masks.push_back(crypto::MaskSeed{seed, /*subtract=*/j < d});
        OPENSSL_cleanse(seed.data(), seed.size());
      }
      return absl::OkStatus();
    }();
    OPENSSL_cleanse(key_bytes->data(), key_bytes->size());
    timings.key_agreement_ms += MsSince(t0);
    if (!status.ok()) break;
  }
  timings.lagrange_sets += cache.size();
  if (status.ok()) status = ApplyMasks(masks, c.config.bits, sum, timings);
  OPENSSL_cleanse(masks.data(), masks.size() * sizeof(crypto::MaskSeed));
  return status;
}

absl::StatusOr<std::unique_ptr<ServerState>> UnmaskingServerState::Finish() {
  const auto start = Clock::now();
  UnmaskingTimings& timings = ctx().unmasking_timings;
  timings = UnmaskingTimings{};
  const SecAggConfig& config = ctx().config;
  const uint64_t mask =
      config.bits == 64 ? ~uint64_t{0} : (uint64_t{1} << config.bits) - 1;
  // U3's masked inputs were summed as they arrived, wrapping mod 2^64, a
  // multiple of 2^bits, so one reduction now suffices.
  std::vector<uint64_t> sum = std::move(ctx().masked_sum);
  ctx().masked_sum.clear();
  sum.resize(config.vector_length, 0);
  for (uint64_t& v : sum) v &= mask;
  timings.summation_ms = MsSince(start);
  absl::Status status = RemoveSelfMasks(sum);
  if (status.ok()) status = RemovePairwiseMasks(sum);
  timings.total_ms = MsSince(start);
  if (!status.ok()) {
    std::fill(sum.begin(), sum.end(), 0);
    if (status.code() != absl::StatusCode::kAborted) {
      status = absl::AbortedError(
          absl::StrCat("SecAgg unmasking failed: ", status.ToString()));
    }
    return Abort(status, FewestShares(ctx()), config.t);
  }
  return std::make_unique<CompletedServerState>(TakeContext(), std::move(sum));
}

}  // namespace cohort::secagg
