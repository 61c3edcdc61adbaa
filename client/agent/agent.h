#ifndef COHORT_CLIENT_AGENT_AGENT_H_
#define COHORT_CLIENT_AGENT_AGENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/train/local_trainer.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/base/random.h"

namespace cohort::client {

// The device daemon's main loop: check in, take an assignment or a
// RetryWindow, download and verify the model, train locally, upload the
// delta, repeat. Backs off with full jitter on retryable errors and stops
// cleanly when `stop` is notified.
//
// Run() is called once from one thread; Cancel() may be called from any
// thread (the signal thread) to abort the RPC in flight.
class Agent {
 public:
  Agent(const cohort::v1::AgentConfig& config,
        std::unique_ptr<cohort::v1::Coordinator::StubInterface> stub,
        LocalTrainer* trainer, absl::Notification* stop);

  // OK after a stop request or max_rounds reports. UNAUTHENTICATED when the
  // server's certificate is not trusted; FAILED_PRECONDITION when the server
  // refuses the check-in itself (wrong population, bad identity). Neither is
  // retried. Everything else is retried with backoff.
  absl::Status Run();

  // Cancels the RPC in flight, if any.
  void Cancel();

  int64_t rounds_reported() const { return rounds_reported_; }

 private:
  // One Participate stream. Returns how long to wait before the next one.
  absl::StatusOr<absl::Duration> ParticipateOnce();
  absl::StatusOr<absl::Duration> DoAssignment(
      grpc::ClientReaderWriterInterface<cohort::v1::ClientMessage,
                                        cohort::v1::ServerMessage>* stream,
      const cohort::v1::TaskAssignment& assignment);
  // Cached or downloaded weights of `ref`, verified against its hash.
  absl::StatusOr<cohort::v1::Weights> GetModel(const cohort::v1::ModelRef& ref,
                                               const std::string& task);
  absl::StatusOr<std::string> Download(const cohort::v1::ModelRef& ref,
                                       const std::string& task);
  absl::Duration NextBackoff();
  // Waits for `d` or a stop request; false if stopping.
  bool Wait(absl::Duration d);
  std::unique_ptr<grpc::ClientContext> NewContext();
  void ReleaseContext();

  const cohort::v1::AgentConfig config_;
  std::unique_ptr<cohort::v1::Coordinator::StubInterface> stub_;
  LocalTrainer* const trainer_;
  absl::Notification* const stop_;
  base::Random random_;
  int backoff_attempt_ = 0;
  int64_t rounds_reported_ = 0;
  int64_t cached_version_ = 0;
  cohort::v1::Weights cached_weights_;

  absl::Mutex mu_;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// True when an RPC failed because the TLS handshake rejected the server's
// certificate (so retrying cannot help).
bool IsTlsTrustFailure(const grpc::Status& status);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_H_
