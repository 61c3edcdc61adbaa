#ifndef COHORT_SERVER_SECAGG_SECAGG_SERVER_H_
#define COHORT_SERVER_SECAGG_SECAGG_SERVER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/secagg/secagg_messages.h"
#include "server/secagg/secagg_server_state.h"

namespace cohort::secagg {

// The server side of one SecAgg+ instance (Bell et al. 2020 over a
// SharingGraph): it learns only the sum mod 2^bits of the inputs of the
// clients that sent a masked input, and only if enough clients stay.
//
// Phases: AdvertiseKeys -> ShareKeys -> MaskedInputCollection -> Unmasking
// -> Completed, or Aborted from any phase. A phase ends when every live
// client answered, or when the caller's phase deadline passes and it calls
// ProceedToNext(). Failure tiers: a bad message (malformed, wrong size,
// replayed, out of phase, revealing the wrong kind of share) drops only its
// sender, and a share its recipient reports as forged drops nobody (the
// recipient masked with the sender all the same and holds no share of it);
// fewer than t clients in a phase, fewer than t shares for a secret in
// Unmasking, or shares that disagree, abort with no sum released.
//
// Masked inputs are summed as they arrive, so the server holds one vector
// of vector_length values whatever n is. U3, the clients in the sum, is
// every client whose masked input was accepted, including one that goes
// away (or is dropped for a later message) before MaskedInputCollection
// ends: the server then learns its self-mask seed, never its mask key.
//
// Thread-safe: one mutex serializes all calls. The sender is called with the
// mutex held and must outlive the server.
class SecAggServer {
 public:
  // INVALID_ARGUMENT for inconsistent parameters (n < 2, bad k for the
  // SharingGraph, t outside [1, k], bits outside [1, 64], no coordinates).
  // Unmasking reconstructs secrets, agrees pairwise keys and expands masks
  // on `threads` threads (base::AvailableCores() for every core); the sum
  // does not depend on it.
  static absl::StatusOr<std::unique_ptr<SecAggServer>> Create(
      const SecAggConfig& config, ServerSender* sender, int threads = 1);

  // Handles one message from client `from`. OK if it was accepted.
  // Otherwise the message was rejected and, unless the code is
  // FAILED_PRECONDITION (client already dropped or round over) or the id is
  // unknown (INVALID_ARGUMENT), its sender was dropped; the round goes on
  // unless that lost quorum (see IsAborted()).
  absl::Status ReceiveMessage(int from, const ClientToServer& message);

  // Client `client` went away (its stream ended): dropped now rather than at
  // the phase deadline. Ignored for unknown or already dropped clients.
  void ClientGone(int client);

  // The current phase's deadline passed: drops pending clients and advances
  // or aborts. OK also when it aborts; check IsAborted().
  absl::Status ProceedToNext();

  std::string StateName() const;
  bool IsCompleted() const;
  bool IsAborted() const;
  // The abort reason (ABORTED), or OK if not aborted.
  absl::Status AbortStatus() const;
  // The phase that aborted, its survivors and threshold, and the status;
  // nullopt unless aborted.
  std::optional<AbortInfo> abort_info() const;
  // Clients the server still listens to (not dropped).
  int LiveCount() const;
  // The phases a client can be dropped in, in order (kPhaseNames[i] names
  // DroppedByPhase()[i]).
  static constexpr std::array<const char*, 4> kPhaseNames = {
      "AdvertiseKeys", "ShareKeys", "MaskedInputCollection", "Unmasking"};
  // Clients dropped so far, by the phase the server was in when it dropped
  // them (timed out, went away or sent a bad message), even if the client
  // had already answered that phase. A client dropped in Unmasking still has
  // its masked input in the sum; one dropped in MaskedInputCollection does
  // not, whether or not its masked input had arrived.
  std::array<int, 4> DroppedByPhase() const;
  // The unmasked sum. FAILED_PRECONDITION unless Completed.
  absl::StatusOr<std::vector<uint64_t>> Result() const;
  // Clients whose masked input is in the sum, sorted. Empty unless Completed.
  std::vector<int> Contributors() const;
  // Whether the server stopped listening to `client`.
  bool IsDropped(int client) const;

  // Where the last Unmasking spent its time (summation, reconstruction, key
  // agreement, mask expansion); all zero before Unmasking finishes.
  UnmaskingTimings unmasking_timings() const;

  // Test hook: per client, ServerContext bits kRevealedSeedBit /
  // kRevealedKeyBit for the kinds of its shares the server ever accepted.
  std::vector<uint8_t> RevealedShareKindsForTesting() const;

 private:
  explicit SecAggServer(std::unique_ptr<ServerState> state)
      : state_(std::move(state)) {}
  void Transition(absl::StatusOr<std::unique_ptr<ServerState>> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<ServerState> state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::secagg

#endif  // COHORT_SERVER_SECAGG_SECAGG_SERVER_H_
