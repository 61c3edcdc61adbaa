#ifndef COHORT_COMMON_SECAGG_SECAGG_MESSAGES_H_
#define COHORT_COMMON_SECAGG_SECAGG_MESSAGES_H_

// The SecAgg+ protocol messages, as plain structs. One std::variant envelope
// per direction (the in-memory analogue of a proto oneof). Transport wiring
// (gRPC Participate stream) converts these at its edge; the state machines in
// client/secagg and server/secagg only see these types. Client ids are the
// round's dense indices 0..n-1 and are the nodes of the SharingGraph.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cohort::secagg {

// Static parameters of one SecAgg+ instance, agreed before the protocol.
struct SecAggConfig {
  int n = 0;                  // clients in the round
  int k = 0;                  // SharingGraph degree (n-1 = complete graph)
  int t = 0;                  // Shamir threshold, 1 <= t <= k
  int bits = 32;              // inputs and sums live in Z_{2^bits}, 1..64
  int64_t vector_length = 0;  // coordinates, including any count coordinate
  uint64_t graph_seed = 0;    // seeds the SharingGraph ring order
  uint64_t round_id = 0;      // bound into every key derivation
};

// Which of a client's two secrets a Shamir share belongs to.
enum class ShareKind : int {
  kUnspecified = 0,
  kSelfMaskSeed = 1,  // revealed only for clients that sent a masked input
  kMaskKey = 2,       // revealed only for clients that dropped before that
};

// ---- client -> server ----
struct AdvertiseKeys {
  std::vector<uint8_t> enc_public_key;   // X25519, 32 bytes
  std::vector<uint8_t> mask_public_key;  // X25519, 32 bytes
};
struct EncryptedShare {
  int32_t peer = -1;  // recipient (client->server) or sender (server->client)
  std::vector<uint8_t> ciphertext;  // nonce-less AES-256-GCM, tag appended
};
struct ShareKeys {
  std::vector<EncryptedShare> shares;  // one per neighbour that advertised
};
struct MaskedInput {
  std::vector<uint64_t> masked;  // vector_length values < 2^bits
  // Neighbours whose delivered share failed AES-GCM authentication or
  // validation here; this client did not mask with them. The server drops
  // them (their masked inputs are not summed; their mask keys are recovered).
  std::vector<int32_t> rejected_peers;
};
struct RevealedShare {
  int32_t owner = -1;  // whose secret this share belongs to
  ShareKind kind = ShareKind::kUnspecified;
  std::vector<uint8_t> share;  // FieldElement::kEncodedBytes bytes
};
struct UnmaskingResponse {
  std::vector<RevealedShare> shares;
};
using ClientToServer =
    std::variant<AdvertiseKeys, ShareKeys, MaskedInput, UnmaskingResponse>;

// ---- server -> client ----
struct PeerKeys {
  int32_t id = -1;
  std::vector<uint8_t> enc_public_key;
  std::vector<uint8_t> mask_public_key;
};
struct KeysBroadcast {
  std::vector<PeerKeys> neighbours;  // neighbours that advertised keys
};
struct SharesDelivery {
  std::vector<EncryptedShare> shares;  // peer = the neighbour that sent it
};
struct UnmaskingRequest {
  std::vector<int32_t> survivors;  // sent a masked input: reveal seed shares
  std::vector<int32_t> dropped;    // shared keys but no input: reveal key
};
struct AbortRound {
  std::string reason;
};
using ServerToClient = std::variant<KeysBroadcast, SharesDelivery,
                                    UnmaskingRequest, AbortRound>;

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_SECAGG_MESSAGES_H_
