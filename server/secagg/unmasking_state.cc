#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/base/parallel_for.h"
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
  return static_cast<uint32_t>(std::lower_bound(nb.begin(), nb.end(), holder) -
                               nb.begin() + 1);
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
    return absl::AbortedError(
        absl::StrCat("SecAgg: shares of client ", owner,
                     " inconsistent: ", secret.status().message()));
  }
  return *secret;
}

// Masks derived by one unmasking thread (wiped storage).
struct MaskWork {
  crypto::MaskSeeds masks;
  // The first failure, at position `failed_at` of the task's owner list.
  absl::Status status;
  size_t failed_at = 0;
  int secrets = 0;
  int lagrange_sets = 0;
};

// A reconstructed secret that wipes itself.
struct Secret {
  std::array<uint8_t, 32> bytes{};
  ~Secret() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// ReconstructSecret into `out`, leaving no copy of the secret behind.
absl::Status ReconstructInto(int owner, absl::Span<const ShamirShare> shares,
                             int t, LagrangeCache& cache, Secret& out) {
  absl::StatusOr<std::array<uint8_t, 32>> secret =
      ReconstructSecret(owner, shares, t, cache);
  if (!secret.ok()) return secret.status();
  out.bytes = *secret;
  OPENSSL_cleanse(secret->data(), secret->size());
  return absl::OkStatus();
}

// Runs derive(owner, cache, work) for every owner in `owners`, spread over
// `threads` threads (each with its own Lagrange cache), and gathers their
// masks into `masks`. On failure, the failure of the earliest owner.
absl::Status DeriveMasks(
    const std::vector<int>& owners, int threads,
    const std::function<absl::Status(int, LagrangeCache&, MaskWork&)>& derive,
    crypto::MaskSeeds& masks, UnmaskingTimings& timings) {
  const int tasks = std::max(1, std::min<int>(threads, owners.size()));
  std::vector<MaskWork> work(tasks);
  base::ParallelFor(tasks, tasks, [&](int t) {
    LagrangeCache cache;
    for (size_t i = t; i < owners.size(); i += tasks) {
      absl::Status s = derive(owners[i], cache, work[t]);
      if (!s.ok()) {
        work[t].status = std::move(s);
        work[t].failed_at = i;
        break;
      }
    }
    work[t].lagrange_sets = cache.size();
  });
  const MaskWork* failed = nullptr;
  size_t total = masks.size();
  for (const MaskWork& w : work) total += w.masks.size();
  masks.reserve(total);
  for (MaskWork& w : work) {
    timings.secrets_reconstructed += w.secrets;
    timings.lagrange_sets += w.lagrange_sets;
    if (!w.status.ok() &&
        (failed == nullptr || w.failed_at < failed->failed_at)) {
      failed = &w;
    }
    masks.insert(masks.end(), w.masks.begin(), w.masks.end());
  }
  return failed == nullptr ? absl::OkStatus() : failed->status;
}

// Applies the masks to `sum` in `threads` slices (crypto::AddMasksAt), each
// on its own thread; every slice is one fused pass over its part of `sum`.
absl::Status ApplyMasks(absl::Span<const crypto::MaskSeed> masks, int bits,
                        int threads, std::vector<uint64_t>& sum,
                        UnmaskingTimings& timings) {
  const auto t0 = Clock::now();
  const size_t align = crypto::kMaskSliceAlignment;
  const size_t per_slice = (sum.size() + threads - 1) / std::max(threads, 1);
  const size_t slice = std::max(align, (per_slice + align - 1) / align * align);
  const int slices = static_cast<int>((sum.size() + slice - 1) / slice);
  std::vector<absl::Status> status(slices);
  base::ParallelFor(slices, threads, [&](int i) {
    const size_t first = i * slice;
    const size_t length = std::min(slice, sum.size() - first);
    status[i] = crypto::AddMasksAt(masks, bits, first,
                                   absl::MakeSpan(sum).subspan(first, length));
  });
  timings.mask_expansion_ms += MsSince(t0);
  timings.masks_removed += static_cast<int>(masks.size());
  for (absl::Status& s : status) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Shares that arrived for the worst-off secret Unmasking needs (the
// survivors' self-mask seeds, the mask keys of clients that dropped after
// sharing): what an abort reports against the threshold t.
int FewestShares(const ServerContext& c) {
  const auto seeds = SharesByOwner(c, ShareKind::kSelfMaskSeed);
  const auto keys = SharesByOwner(c, ShareKind::kMaskKey);
  int fewest = -1;
  for (int owner : c.u2) {
    const int held =
        static_cast<int>((c.in_u3[owner] ? seeds[owner] : keys[owner]).size());
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
    if (o < 0 || o >= c.config.n || !c.HoldsShareOf(from, o) || seen[o]) {
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
    bits |=
        h.kind == ShareKind::kSelfMaskSeed ? kRevealedSeedBit : kRevealedKeyBit;
    CHECK(bits != (kRevealedSeedBit | kRevealedKeyBit))
        << "SecAgg server holds both kinds of shares of client " << h.owner;
  }
  ctx().responses[from] = std::move(accepted);
  return absl::OkStatus();
}

absl::Status UnmaskingServerState::SelfMasks(crypto::MaskSeeds& masks) {
  const ServerContext& c = ctx();
  const auto t0 = Clock::now();
  const auto shares = SharesByOwner(c, ShareKind::kSelfMaskSeed);
  absl::Status s = DeriveMasks(
      c.u3, c.threads,
      [&](int owner, LagrangeCache& cache, MaskWork& work) -> absl::Status {
        Secret seed;
        COHORT_RETURN_IF_ERROR(
            ReconstructInto(owner, shares[owner], c.config.t, cache, seed));
        ++work.secrets;
        work.masks.push_back(crypto::MaskSeed{seed.bytes, /*subtract=*/true});
        return absl::OkStatus();
      },
      masks, ctx().unmasking_timings);
  ctx().unmasking_timings.reconstruction_ms += MsSince(t0);
  return s;
}

namespace {

// The mask keys of the survivors that masked with a dropped client, loaded
// into OpenSSL once each (a survivor meets every dropped neighbour).
absl::StatusOr<std::vector<std::optional<crypto::X25519PeerKey>>>
LoadSurvivingNeighbours(const ServerContext& c,
                        const std::vector<int>& dropped) {
  std::vector<std::optional<crypto::X25519PeerKey>> peers(c.mask_keys.size());
  for (int d : dropped) {
    for (int j : c.graph.Neighbors(d)) {
      if (!c.in_u3[j] || peers[j].has_value()) continue;
      COHORT_ASSIGN_OR_RETURN(peers[j],
                              crypto::X25519PeerKey::Load(*c.mask_keys[j]));
    }
  }
  return peers;
}

}  // namespace

absl::Status UnmaskingServerState::PairwiseMasks(crypto::MaskSeeds& masks) {
  const ServerContext& c = ctx();
  const auto t0 = Clock::now();
  const auto shares = SharesByOwner(c, ShareKind::kMaskKey);
  std::vector<int> dropped;
  for (int d : c.u2) {
    if (!c.in_u3[d]) dropped.push_back(d);
  }
  COHORT_ASSIGN_OR_RETURN(
      const std::vector<std::optional<crypto::X25519PeerKey>> peers,
      LoadSurvivingNeighbours(c, dropped));
  absl::Status s = DeriveMasks(
      dropped, c.threads,
      [&](int d, LagrangeCache& cache, MaskWork& work) -> absl::Status {
        Secret key_bytes;
        COHORT_RETURN_IF_ERROR(
            ReconstructInto(d, shares[d], c.config.t, cache, key_bytes));
        ++work.secrets;
        COHORT_ASSIGN_OR_RETURN(
            auto key, crypto::X25519PrivateKey::FromBytes(key_bytes.bytes));
        if (!(key.PublicKey() == *c.mask_keys[d])) {
          return absl::AbortedError(
              absl::StrCat("SecAgg: reconstructed mask key of client ", d,
                           " does not match its advertised key"));
        }
        COHORT_ASSIGN_OR_RETURN(crypto::X25519Agreements agreements,
                                crypto::X25519Agreements::Create(key));
        for (int j : c.graph.Neighbors(d)) {
          // Survivor j masked with d iff d's share was routed to it.
          const auto& masked_with = c.delivered_from[j];
          if (!c.in_u3[j] ||
              !std::binary_search(masked_with.begin(), masked_with.end(), d)) {
            continue;
          }
          // Survivor j added the mask if j < d and subtracted it otherwise;
          // removing it does the opposite.
          crypto::MaskSeed& mask = work.masks.emplace_back();
          mask.subtract = j < d;
          absl::StatusOr<std::array<uint8_t, 32>> seed = DerivePairwiseSeed(
              agreements, *peers[j], c.config.round_id, d, j);
          if (!seed.ok()) return seed.status();
          mask.seed = *seed;
          OPENSSL_cleanse(seed->data(), seed->size());
        }
        return absl::OkStatus();
      },
      masks, ctx().unmasking_timings);
  ctx().unmasking_timings.key_agreement_ms += MsSince(t0);
  return s;
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
  crypto::MaskSeeds masks;
  absl::Status status = SelfMasks(masks);
  if (status.ok()) status = PairwiseMasks(masks);
  if (status.ok()) {
    status = ApplyMasks(masks, config.bits, ctx().threads, sum, timings);
  }
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
