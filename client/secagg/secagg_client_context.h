#ifndef COHORT_CLIENT_SECAGG_SECAGG_CLIENT_CONTEXT_H_
#define COHORT_CLIENT_SECAGG_SECAGG_CLIENT_CONTEXT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

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

// Data shared by the client states; each state owns it and moves it on.
// Not thread-safe: the SecAggClient facade serializes access.
struct ClientContext {
  ClientContext(const SecAggConfig& c, int self, SharingGraph g,
                std::vector<uint64_t> x, crypto::SecureRandom* r,
                ClientSender* s)
      : config(c), id(self), graph(std::move(g)), input(std::move(x)),
        random(r), sender(s) {
    enc_peer.resize(c.n);
    mask_peer.resize(c.n);
  }

  SecAggConfig config;
  int id;
  SharingGraph graph;
  std::vector<uint64_t> input;   // values < 2^bits
  crypto::SecureRandom* random;  // not owned
  ClientSender* sender;          // not owned

  std::optional<crypto::X25519PrivateKey> enc_key;   // encrypts shares
  std::optional<crypto::X25519PrivateKey> mask_key;  // pairwise masks
  std::array<uint8_t, 32> self_seed{};
  std::vector<std::optional<crypto::X25519PublicKey>> enc_peer, mask_peer;
  std::vector<int> sent_to;  // neighbours we sent shares to, sorted
  std::vector<HeldSharePair> held;  // neighbours' shares, by owner
};

}  // namespace cohort::secagg

#endif  // COHORT_CLIENT_SECAGG_SECAGG_CLIENT_CONTEXT_H_
