#ifndef COHORT_CLIENT_AGENT_LOCAL_CLIENT_H_
#define COHORT_CLIENT_AGENT_LOCAL_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "cohort/v1/local.grpc.pb.h"

namespace cohort::client {

// What an application on the device links to talk to its agent
// (cohort/v1/local.proto over the agent's Unix socket): add training
// examples, and ask the current model for predictions. gRPC and protobuf
// only: no LibTorch, no SQLite. Each call waits at most `timeout`.
// Errors are the agent's (local.proto lists them), or UNAVAILABLE when no
// agent listens on the socket, DEADLINE_EXCEEDED after `timeout`.
// Thread-safe, as a gRPC stub is.
class LocalClient {
 public:
  explicit LocalClient(const std::string& socket_path,
                       absl::Duration timeout = absl::Seconds(10));

  // Defines (or confirms) population `spec`.
  absl::Status DefinePopulation(const cohort::v1::PopulationSpec& spec);
  // Adds `request`'s examples in one transaction; returns what the
  // population holds afterwards.
  absl::StatusOr<int64_t> AddExamples(
      const cohort::v1::AddExamplesRequest& request);
  absl::StatusOr<cohort::v1::CountExamplesResponse> CountExamples(
      const std::string& population);
  // `batch` inputs of 784 values each (local.proto's PredictRequest).
  absl::StatusOr<cohort::v1::PredictResponse> Predict(
      absl::Span<const float> features, int batch);

 private:
  void Prepare(grpc::ClientContext* context) const;

  const absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cohort::v1::LocalExamples::Stub> examples_;
  std::unique_ptr<cohort::v1::LocalInference::Stub> inference_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_LOCAL_CLIENT_H_
