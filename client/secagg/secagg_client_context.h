#ifndef COHORT_CLIENT_SECAGG_SECAGG_CLIENT_CONTEXT_H_
#define COHORT_CLIENT_SECAGG_SECAGG_CLIENT_CONTEXT_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/crypto/secure_random.h"
#include "common/crypto/x25519.h"
#include "common/secagg/field_element.h"
#include "common/secagg/secagg_messages.h"
#include "common/secagg/sharing_graph.h"

namespace cohort::secagg {

// Delivers client messages to the server (the Participate stream in
// production, an in-memory queue in tests).
class ClientSender {
 public:
  virtual ~ClientSender() = default;
  virtual void Send(ClientToServer message) = 0;
};

// The two shares a client holds for one neighbour's secrets.
struct HeldSharePair {
  int owner = -1;
  FieldElement seed_share;
  FieldElement key_share;
};

// The client's input x (vector_length values < 2^bits), asked for once,
// when the masked input is due: a device need not hold x through the first
// two phases (the simulator trains its clients only then). It runs under the
// SecAggClient's lock, so it must not call back into that client.
using InputSource = absl::AnyInvocable<absl::StatusOr<std::vector<uint64_t>>()>;

// Data shared by the client states; each state owns it and moves it on.
// Not thread-safe: the SecAggClient facade serializes access.
struct ClientContext {
  ClientContext(const SecAggConfig& c, int self, std::vector<int> nb,
                InputSource x, crypto::SecureRandom* r,
                ClientSender* s)
      : config(c), id(self), neighbors(std::move(nb)), input(std::move(x)),
        random(r), sender(s) {
    enc_peer.resize(neighbors.size());
    mask_peer.resize(neighbors.size());
  }

  SecAggConfig config;
  int id;
  // Its own neighbours in the round's SharingGraph, sorted: a client keeps
  // these k ids, not the graph's n * k (a simulated cohort holds n clients).
  std::vector<int> neighbors;
  InputSource input;             // called once, by the masked-input state
  crypto::SecureRandom* random;  // not owned
  ClientSender* sender;          // not owned

  std::optional<crypto::X25519PrivateKey> enc_key;   // encrypts shares
  std::optional<crypto::X25519PrivateKey> mask_key;  // pairwise masks
  std::array<uint8_t, 32> self_seed{};
  // Neighbours' public keys, by slot (Slot: the neighbour's index in
  // `neighbors`).
  std::vector<std::optional<crypto::X25519PublicKey>> enc_peer, mask_peer;

  // `peer`'s index in `neighbors`; -1 if it is no neighbour.
  int Slot(int peer) const {
    auto it = std::lower_bound(neighbors.begin(), neighbors.end(), peer);
    return it != neighbors.end() && *it == peer
               ? static_cast<int>(it - neighbors.begin())
               : -1;
  }
  std::vector<int> sent_to;  // neighbours we sent shares to, sorted
  std::vector<HeldSharePair> held;  // neighbours' shares, by owner
};

}  // namespace cohort::secagg

#endif  // COHORT_CLIENT_SECAGG_SECAGG_CLIENT_CONTEXT_H_
