#ifndef COHORT_CLIENT_AGENT_LOCAL_API_H_
#define COHORT_CLIENT_AGENT_LOCAL_API_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/agent/agent_options.h"
#include "client/agent/serving_model.h"
#include "client/examples/example_store.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace cohort::client {

// Largest request the local socket accepts; gRPC refuses a larger one with
// RESOURCE_EXHAUSTED before it reaches a service.
inline constexpr int kMaxLocalMessageBytes = 32 << 20;

// The agent's local API (cohort/v1/local.proto) on a Unix socket: gRPC over
// UDS, services LocalExamples (the applications' examples go into `store`)
// and LocalInference (Predict on `model`'s current model).
//
// Only the device's own users reach it: the socket file is made mode 0660
// at start (owner and group; connecting needs write permission), so the
// agent's user and group decide who may call. Give its folder mode 0750 as
// well (the systemd unit's RuntimeDirectoryMode does).
//
// Bad input is answered, never fatal: a malformed message, an example that
// does not fit its population, an oversized request (RESOURCE_EXHAUSTED),
// a client that vanishes mid-call. Calls run on gRPC's thread pool;
// Predict calls on one model are serialised by the model.
class LocalApiServer {
 public:
  // Listens on options.socket_path, replacing a stale socket file a killed
  // agent left behind. `store` may be null (the agent trains on the
  // Fashion-MNIST shard): LocalExamples then answers FAILED_PRECONDITION.
  // Neither is owned; both must outlive the server. FAILED_PRECONDITION
  // naming local_api.socket_path when the path exists and is not a socket,
  // another process already listens there, or the socket cannot be made
  // (missing folder, permissions).
  static absl::StatusOr<std::unique_ptr<LocalApiServer>> Start(
      const LocalApiOptions& options, ExampleStore* store, ServedModel* model);

  // Stops serving (calls in flight finish first, for at most 1 s) and
  // removes the socket file.
  ~LocalApiServer();

  const std::string& socket_path() const { return socket_path_; }

 private:
  struct Services;
  LocalApiServer(std::string socket_path, std::unique_ptr<Services> services,
                 std::unique_ptr<grpc::Server> server);

  const std::string socket_path_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
};

// Makes `path` free for a new socket: OK when nothing is there or a stale
// socket (one nobody listens on) was removed; FAILED_PRECONDITION when
// something else is there or a live process listens on it.
absl::Status ClearStaleSocket(const std::string& path);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_LOCAL_API_H_
