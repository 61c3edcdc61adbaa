#ifndef COHORT_SERVER_SECAGG_SECAGG_SERVER_STATES_H_
#define COHORT_SERVER_SECAGG_SECAGG_SERVER_STATES_H_

// The four phase states of the server. Transitions:
//   AdvertiseKeys -> ShareKeys -> MaskedInputCollection -> Unmasking
//   -> Completed, and any phase -> Aborted when fewer than t clients remain.
// Each phase ends when every live client answered or on ProceedToNext()
// (its deadline). See ServerState for the error contract.

#include <memory>
#include <string_view>
#include <vector>

#include "common/crypto/aes_ctr_prg.h"
#include "server/secagg/secagg_server_state.h"

namespace cohort::secagg {

// Phase 1: collects each client's two X25519 public keys (32 bytes each).
class AdvertiseKeysServerState final : public ServerState {
 public:
  using ServerState::ServerState;
  std::string_view Name() const override { return "AdvertiseKeys"; }

 protected:
  int phase() const override { return 1; }
  absl::Status Accept(int from, const ClientToServer& message) override;
  absl::StatusOr<std::unique_ptr<ServerState>> Finish() override;
};

// Phase 2: collects encrypted shares, at most one per neighbour that
// advertised keys, each exactly kShareCiphertextSize bytes.
class ShareKeysServerState final : public ServerState {
 public:
  using ServerState::ServerState;
  std::string_view Name() const override { return "ShareKeys"; }

 protected:
  int phase() const override { return 2; }
  absl::Status Accept(int from, const ClientToServer& message) override;
  absl::StatusOr<std::unique_ptr<ServerState>> Finish() override;
};

// Phase 3: collects masked inputs (vector_length values below 2^bits).
class MaskedInputServerState final : public ServerState {
 public:
  using ServerState::ServerState;
  std::string_view Name() const override { return "MaskedInputCollection"; }

 protected:
  int phase() const override { return 3; }
  absl::Status Accept(int from, const ClientToServer& message) override;
  absl::StatusOr<std::unique_ptr<ServerState>> Finish() override;
};

// Phase 4: collects revealed shares. A survivor (sent a masked input) may
// only have self-mask-seed shares revealed, a dropped client only mask-key
// shares; anything else drops the responder, so the server never holds both
// kinds for one client. Finish reconstructs the secrets and unmasks the sum.
class UnmaskingServerState final : public ServerState {
 public:
  using ServerState::ServerState;
  std::string_view Name() const override { return "Unmasking"; }

 protected:
  int phase() const override { return 4; }
  // The phase may end with few responders; Finish checks, per owner, that
  // t shares arrived.
  int Threshold() const override { return 1; }
  absl::Status Accept(int from, const ClientToServer& message) override;
  absl::StatusOr<std::unique_ptr<ServerState>> Finish() override;

 private:
  // The survivors' self-mask seeds (to subtract) and the pairwise masks
  // between each dropped client and its surviving neighbours (to undo),
  // appended to `masks`; derived on ctx().threads threads. ABORTED for a
  // secret without t consistent shares or a mask key that does not match.
  absl::Status SelfMasks(crypto::MaskSeeds& masks);
  absl::Status PairwiseMasks(crypto::MaskSeeds& masks);
};

}  // namespace cohort::secagg

#endif  // COHORT_SERVER_SECAGG_SECAGG_SERVER_STATES_H_
