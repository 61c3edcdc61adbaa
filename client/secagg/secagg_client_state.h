#ifndef COHORT_CLIENT_SECAGG_SECAGG_CLIENT_STATE_H_
#define COHORT_CLIENT_SECAGG_SECAGG_CLIENT_STATE_H_

// The client's SecAgg+ states. Transitions:
//   AdvertiseKeys --Start--> ShareKeys --KeysBroadcast--> MaskedInput
//   --SharesDelivery--> Unmasking --UnmaskingRequest--> Completed,
// and AbortRound from the server moves any state to Aborted. A message the
// state does not expect, or one that fails validation or decryption, is an
// error status (the facade then aborts this client); nothing crashes.

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/secagg/secagg_client_context.h"

namespace cohort::secagg {

class ClientState {
 public:
  explicit ClientState(std::unique_ptr<ClientContext> ctx)
      : ctx_(std::move(ctx)) {}
  virtual ~ClientState() = default;
  virtual std::string_view Name() const = 0;
  virtual bool IsTerminal() const { return false; }

  // Only in AdvertiseKeys: generates and sends keys. FAILED_PRECONDITION
  // elsewhere.
  virtual absl::StatusOr<std::unique_ptr<ClientState>> Start() {
    return absl::FailedPreconditionError("SecAgg client already started");
  }
  // Handles one server message; returns the next state. AbortRound moves to
  // Aborted. Errors: FAILED_PRECONDITION (out of phase), INVALID_ARGUMENT
  // (malformed), ABORTED (too few neighbours to go on), INTERNAL (crypto
  // failure). A neighbour's share that fails AES-GCM authentication is not
  // an error of this client: it is logged, that neighbour is left out of the
  // masks and reported in MaskedInput::rejected_peers.
  absl::StatusOr<std::unique_ptr<ClientState>> HandleMessage(
      const ServerToClient& message);

 protected:
  virtual absl::StatusOr<std::unique_ptr<ClientState>> Handle(
      const ServerToClient& message) {
    return absl::FailedPreconditionError(
        "SecAgg client expected no message in this state");
  }
  ClientContext& ctx() { return *ctx_; }
  std::unique_ptr<ClientContext> TakeContext() { return std::move(ctx_); }

 private:
  std::unique_ptr<ClientContext> ctx_;
};

class ClientAdvertiseKeysState final : public ClientState {
 public:
  using ClientState::ClientState;
  std::string_view Name() const override { return "AdvertiseKeys"; }
  absl::StatusOr<std::unique_ptr<ClientState>> Start() override;
};

class ClientShareKeysState final : public ClientState {
 public:
  using ClientState::ClientState;
  std::string_view Name() const override { return "ShareKeys"; }

 protected:
  absl::StatusOr<std::unique_ptr<ClientState>> Handle(
      const ServerToClient& message) override;
};

class ClientMaskedInputState final : public ClientState {
 public:
  using ClientState::ClientState;
  std::string_view Name() const override { return "MaskedInputCollection"; }

 protected:
  absl::StatusOr<std::unique_ptr<ClientState>> Handle(
      const ServerToClient& message) override;

 private:
  absl::Status DecryptShare(const EncryptedShare& share);
  // y = x + the self mask + a pair mask for every neighbour whose share
  // arrived (those held, and `rejected`, whose share did not decrypt).
  absl::StatusOr<std::vector<uint64_t>> MaskInput(
      const std::vector<int32_t>& rejected);
};

class ClientUnmaskingState final : public ClientState {
 public:
  using ClientState::ClientState;
  std::string_view Name() const override { return "Unmasking"; }

 protected:
  absl::StatusOr<std::unique_ptr<ClientState>> Handle(
      const ServerToClient& message) override;
};

class ClientCompletedState final : public ClientState {
 public:
  using ClientState::ClientState;
  std::string_view Name() const override { return "Completed"; }
  bool IsTerminal() const override { return true; }
};

class ClientAbortedState final : public ClientState {
 public:
  using ClientState::ClientState;
  std::string_view Name() const override { return "Aborted"; }
  bool IsTerminal() const override { return true; }
};

}  // namespace cohort::secagg

#endif  // COHORT_CLIENT_SECAGG_SECAGG_CLIENT_STATE_H_
