#ifndef COHORT_CLIENT_SECAGG_SECAGG_CLIENT_H_
#define COHORT_CLIENT_SECAGG_SECAGG_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/secagg/secagg_client_state.h"

namespace cohort::secagg {

// OK if `input` fits `config`: vector_length values, each < 2^bits;
// INVALID_ARGUMENT otherwise.
absl::Status CheckInput(const SecAggConfig& config,
                        const std::vector<uint64_t>& input);

// One client of a SecAgg+ instance. It generates two X25519 key pairs (one
// for the AES-GCM keys that encrypt its shares, one for pairwise masks) and a
// self-mask seed, shares the seed and the mask key t-of-k with its
// SharingGraph neighbours, sends y = x + PRG(self seed) + sum_j +-PRG(s_ij)
// mod 2^bits (+ if id < j), and finally reveals, per neighbour, the seed share
// of survivors and the mask-key share of dropped clients -- never both for
// one neighbour. To aggregate an example count securely, append it to x as
// an extra coordinate.
//
// Any error (bad server message, too few neighbours) ends this client: the
// facade reports it and moves to Aborted. A neighbour's forged share (AES-GCM
// authentication failure) is reported to the server instead: the client
// still masks with that neighbour (its advertised key suffices), holds no
// share of it, and the server keeps both in the sum.
// Thread-safe; random and sender must outlive the client.
class SecAggClient {
 public:
  // INVALID_ARGUMENT for a bad config, id or input (wrong length, a value
  // >= 2^bits).
  static absl::StatusOr<std::unique_ptr<SecAggClient>> Create(
      const SecAggConfig& config, int id, std::vector<uint64_t> input,
      crypto::SecureRandom* random, ClientSender* sender);
  // As above, with the input asked for when the masked input is due. Its
  // errors, and CheckInput's, end the client then (ReceiveMessage of the
  // shares returns them).
  static absl::StatusOr<std::unique_ptr<SecAggClient>> Create(
      const SecAggConfig& config, int id, InputSource input,
      crypto::SecureRandom* random, ClientSender* sender);

  // Sends AdvertiseKeys. FAILED_PRECONDITION if already started; INTERNAL if
  // randomness or OpenSSL fails.
  absl::Status Start();
  // Handles one server message (codes as ClientState::HandleMessage). After
  // an error the client is Aborted and every later call FAILED_PRECONDITION.
  absl::Status ReceiveMessage(const ServerToClient& message);

  std::string StateName() const;
  bool IsAborted() const;
  bool IsCompleted() const;
  // The error that ended the client, OK otherwise.
  absl::Status error() const;

 private:
  explicit SecAggClient(std::unique_ptr<ClientState> state)
      : state_(std::move(state)) {}
  absl::Status Apply(absl::StatusOr<std::unique_ptr<ClientState>> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<ClientState> state_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::secagg

#endif  // COHORT_CLIENT_SECAGG_SECAGG_CLIENT_H_
