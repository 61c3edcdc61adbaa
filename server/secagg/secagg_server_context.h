#ifndef COHORT_SERVER_SECAGG_SECAGG_SERVER_CONTEXT_H_
#define COHORT_SERVER_SECAGG_SECAGG_SERVER_CONTEXT_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "common/crypto/x25519.h"
#include "common/secagg/field_element.h"
#include "common/secagg/secagg_messages.h"
#include "common/secagg/sharing_graph.h"

namespace cohort::secagg {

// Delivers server messages to clients. The gRPC round implements it over the
// Participate stream; tests queue messages in memory. Called with the
// SecAggServer's mutex held, so it must not call back into the server.
class ServerSender {
 public:
  virtual ~ServerSender() = default;
  virtual void Send(int client, ServerToClient message) = 0;
};

// Bits of ServerContext::revealed_kinds.
inline constexpr uint8_t kRevealedSeedBit = 1;
inline constexpr uint8_t kRevealedKeyBit = 2;

// One revealed share, kept per responder until Unmasking ends.
struct HeldShare {
  int owner = -1;
  ShareKind kind = ShareKind::kUnspecified;
  FieldElement y;
};

// Where the Unmasking phase's final step (reconstruct, unmask) spent its
// time, measured with a steady clock. All zero until that step runs. Read by
// benchmarks and logs through SecAggServer::unmasking_timings().
struct UnmaskingTimings {
  double summation_ms = 0;       // reducing U3's running sum mod 2^bits
  // Wall time on all threads: the survivors' self-mask seeds (Shamir:
  // Lagrange coefficients, interpolation) ...
  double reconstruction_ms = 0;
  // ... and the dropped clients' mask keys (Shamir) and pairwise seeds
  // (X25519, HKDF).
  double key_agreement_ms = 0;
  double mask_expansion_ms = 0;  // AES-CTR expansion of every mask into the sum
  double total_ms = 0;           // the whole step, including the above
  int secrets_reconstructed = 0;  // self-mask seeds plus mask keys
  int lagrange_sets = 0;  // distinct share-point sets (coefficient computations)
  int masks_removed = 0;  // self masks plus pairwise masks
};

// Data shared by the server states; each state owns it and moves it to the
// next. Not thread-safe: the SecAggServer facade serializes access.
struct ServerContext {
  ServerContext(const SecAggConfig& c, SharingGraph g, ServerSender* s)
      : config(c), graph(std::move(g)), sender(s) {
    const auto n = static_cast<size_t>(c.n);
    live.assign(n, true);
    reached.assign(n, 0);
    dropped_in.assign(n, 0);
    enc_keys.resize(n);
    mask_keys.resize(n);
    pending_shares.resize(n);
    delivered_from.resize(n);
    responses.resize(n);
    rejected_peers.resize(n);
    revealed_kinds.assign(n, 0);
  }

  SecAggConfig config;
  SharingGraph graph;
  ServerSender* sender;  // not owned
  // Threads Unmasking derives and removes masks on (SecAggServer::Create).
  int threads = 1;

  // false once a client dropped (timed out or sent a bad message).
  std::vector<bool> live;
  // Last phase a client completed: 0 none, 1 AdvertiseKeys, 2 ShareKeys,
  // 3 MaskedInputCollection, 4 Unmasking.
  std::vector<int> reached;
  // The phase (1 to 4, as `reached`) a dropped client was dropped in; 0
  // while it is live. A client may complete a phase and go away before the
  // phase ends, so this is not reached + 1.
  std::vector<int> dropped_in;
  // Survivor sets, fixed at the end of each phase (sorted ids).
  std::vector<int> u1, u2, u3;
  std::vector<bool> in_u2, in_u3;

  std::vector<std::optional<crypto::X25519PublicKey>> enc_keys, mask_keys;
  // ShareKeys messages, by sender, until the phase ends.
  std::vector<std::vector<EncryptedShare>> pending_shares;
  // delivered_from[j]: senders whose share was routed to j (pairs are routed
  // only in both directions), sorted: exactly the clients j masked with,
  // whether or not it could decrypt their share.
  std::vector<std::vector<int>> delivered_from;
  // The sum mod 2^64 of every masked input accepted so far (vector_length
  // values once the first arrives): inputs are added as they arrive, so the
  // server holds one vector whatever the cohort's size (U3, the clients
  // summed, is every client whose masked input was accepted).
  std::vector<uint64_t> masked_sum;
  // MaskedInput::rejected_peers, by accuser, sorted: delivered senders whose
  // share it could not decrypt (forged or damaged). It masked with them all
  // the same, and holds no share of them (HoldsShareOf).
  std::vector<std::vector<int32_t>> rejected_peers;
  std::vector<std::vector<HeldShare>> responses;
  // Per owner: which kinds of its shares the server ever accepted. Never
  // both bits (CHECKed).
  std::vector<uint8_t> revealed_kinds;

  UnmaskingTimings unmasking_timings;

  // Whether `holder` holds a share of `owner`'s secrets: `owner`'s share was
  // routed to it and it did not reject it.
  bool HoldsShareOf(int holder, int owner) const {
    const auto& d = delivered_from[holder];
    const auto& r = rejected_peers[holder];
    return std::binary_search(d.begin(), d.end(), owner) &&
           !std::binary_search(r.begin(), r.end(), owner);
  }

  // Why the last message was rejected (OK if it was accepted).
  absl::Status last_rejection;
};

}  // namespace cohort::secagg

#endif  // COHORT_SERVER_SECAGG_SECAGG_SERVER_CONTEXT_H_
