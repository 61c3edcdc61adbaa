#ifndef COHORT_SERVER_SECAGG_SECAGG_SERVER_STATE_H_
#define COHORT_SERVER_SECAGG_SECAGG_SERVER_STATE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/secagg/secagg_server_context.h"

namespace cohort::secagg {

// Why an instance aborted, for logs and the round's abandon reason: the
// phase that could not finish, how many clients it kept (in Unmasking, the
// shares that arrived for the worst-off secret), the threshold it needed,
// and the ABORTED status with the full message.
struct AbortInfo {
  std::string phase;
  int survivors = 0;
  int threshold = 0;
  absl::Status status;
};

// One state of the server's SecAgg+ state machine. HandleMessage and
// ProceedToNext return the next state, or nullptr to stay. They never fail
// because of a client: a bad message drops its sender (recorded in
// context().last_rejection) and quorum loss returns an AbortedServerState.
// A non-OK status means a local failure (e.g. OpenSSL), which the facade
// turns into an abort. Not thread-safe; the facade holds the mutex.
class ServerState {
 public:
  explicit ServerState(std::unique_ptr<ServerContext> ctx)
      : ctx_(std::move(ctx)) {}
  virtual ~ServerState() = default;

  virtual std::string_view Name() const = 0;
  virtual bool IsTerminal() const { return false; }

  // Phase states: accept a message from client `from` or drop its sender.
  // Terminal states ignore messages (last_rejection = FAILED_PRECONDITION).
  virtual absl::StatusOr<std::unique_ptr<ServerState>> HandleMessage(
      int from, const ClientToServer& message);
  // `client` is gone for good (its stream ended): drop it now instead of at
  // the deadline, and advance if nobody else is pending. No-op for unknown,
  // dropped clients and in terminal states.
  absl::StatusOr<std::unique_ptr<ServerState>> HandleGone(int client);
  // The phase deadline passed: drop everyone still pending and advance (or
  // abort). No-op in terminal states.
  virtual absl::StatusOr<std::unique_ptr<ServerState>> ProceedToNext();

  const ServerContext& context() const { return *ctx_; }
  // Set only by the Aborted state.
  virtual const AbortInfo* abort_info() const { return nullptr; }

 protected:
  // Phase number 1..4 this state completes (0 for terminal states).
  virtual int phase() const { return 0; }
  // Minimum number of clients that must complete this phase.
  virtual int Threshold() const { return ctx_->config.t; }
  // Validates and stores one message from a pending live client. A non-OK
  // status rejects it (nothing stored) and drops the sender.
  virtual absl::Status Accept(int from, const ClientToServer& message) {
    return absl::FailedPreconditionError("no message expected");
  }
  // Builds the next state after the phase ended with enough clients.
  virtual absl::StatusOr<std::unique_ptr<ServerState>> Finish() {
    return nullptr;
  }

  ServerContext& ctx() { return *ctx_; }
  std::unique_ptr<ServerContext> TakeContext() { return std::move(ctx_); }
  void Drop(int client, const absl::Status& why);
  // Live clients that completed this phase, sorted.
  std::vector<int> Completed() const;
  // Tells every live client, discards the inputs and returns the Aborted
  // state, recording this phase, `survivors` and `threshold`.
  std::unique_ptr<ServerState> Abort(absl::Status why, int survivors,
                                     int threshold);

 private:
  bool AnyPending() const;
  // After a drop or an accepted message: abort below threshold, advance when
  // nobody is pending.
  absl::StatusOr<std::unique_ptr<ServerState>> AfterChange();
  std::unique_ptr<ServerContext> ctx_;
};

// Terminal: the round aborted; no sum is ever released.
class AbortedServerState final : public ServerState {
 public:
  AbortedServerState(std::unique_ptr<ServerContext> ctx, AbortInfo info)
      : ServerState(std::move(ctx)), info_(std::move(info)) {}
  std::string_view Name() const override { return "Aborted"; }
  bool IsTerminal() const override { return true; }
  const absl::Status& status() const { return info_.status; }
  const AbortInfo* abort_info() const override { return &info_; }

 private:
  AbortInfo info_;
};

// Terminal: holds the unmasked sum of the survivors' inputs mod 2^bits.
class CompletedServerState final : public ServerState {
 public:
  CompletedServerState(std::unique_ptr<ServerContext> ctx,
                       std::vector<uint64_t> sum)
      : ServerState(std::move(ctx)), sum_(std::move(sum)) {}
  std::string_view Name() const override { return "Completed"; }
  bool IsTerminal() const override { return true; }
  const std::vector<uint64_t>& sum() const { return sum_; }

 private:
  std::vector<uint64_t> sum_;
};

}  // namespace cohort::secagg

#endif  // COHORT_SERVER_SECAGG_SECAGG_SERVER_STATE_H_
