#include "client/agent/local_client.h"

#include <limits>

#include "common/base/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace cohort::client {

LocalClient::LocalClient(const std::string& socket_path,
                         absl::Duration timeout)
    : timeout_(timeout) {
  grpc::ChannelArguments args;
  // The agent sets the limit (32 MiB); a client should not refuse its
  // answers first.
  args.SetMaxReceiveMessageSize(std::numeric_limits<int>::max());
  channel_ = grpc::CreateCustomChannel("unix:" + socket_path,
                                       grpc::InsecureChannelCredentials(), args);
  examples_ = cohort::v1::LocalExamples::NewStub(channel_);
  inference_ = cohort::v1::LocalInference::NewStub(channel_);
}

void LocalClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
}

absl::Status LocalClient::DefinePopulation(
    const cohort::v1::PopulationSpec& spec) {
  grpc::ClientContext context;
  Prepare(&context);
  cohort::v1::DefinePopulationRequest request;
  *request.mutable_population() = spec;
  cohort::v1::DefinePopulationResponse response;
  return base::FromGrpcStatus(
      examples_->DefinePopulation(&context, request, &response));
}

absl::StatusOr<int64_t> LocalClient::AddExamples(
    const cohort::v1::AddExamplesRequest& request) {
  grpc::ClientContext context;
  Prepare(&context);
  cohort::v1::AddExamplesResponse response;
  grpc::Status s = examples_->AddExamples(&context, request, &response);
  if (!s.ok()) return base::FromGrpcStatus(s);
  return response.held();
}

absl::StatusOr<cohort::v1::CountExamplesResponse> LocalClient::CountExamples(
    const std::string& population) {
  grpc::ClientContext context;
  Prepare(&context);
  cohort::v1::CountExamplesRequest request;
  request.set_population(population);
  cohort::v1::CountExamplesResponse response;
  grpc::Status s = examples_->CountExamples(&context, request, &response);
  if (!s.ok()) return base::FromGrpcStatus(s);
  return response;
}

absl::StatusOr<cohort::v1::PredictResponse> LocalClient::Predict(
    absl::Span<const float> features, int batch) {
  grpc::ClientContext context;
  Prepare(&context);
  cohort::v1::PredictRequest request;
  request.mutable_features()->Add(features.begin(), features.end());
  request.set_batch(batch);
  cohort::v1::PredictResponse response;
  grpc::Status s = inference_->Predict(&context, request, &response);
  if (!s.ok()) return base::FromGrpcStatus(s);
  return response;
}

}  // namespace cohort::client
