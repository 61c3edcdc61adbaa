#include "client/agent/local_api.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cohort/v1/local.grpc.pb.h"
#include "common/base/grpc_status.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"

namespace cohort::client {
namespace {

using base::ToGrpcStatus;

absl::Status SocketError(const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("local_api.socket_path: ", path, ": ", why));
}

// The store's errors as the local API states them: a damaged store is
// UNAVAILABLE to applications (retry later), not their data's fault.
grpc::Status StoreStatus(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kDataLoss) return ToGrpcStatus(status);
  return ToGrpcStatus(absl::UnavailableError(
      absl::StrCat(status.message(), " (the agent moves a damaged store "
                                     "aside when it next starts)")));
}

class ExamplesService final : public cohort::v1::LocalExamples::Service {
 public:
  ExamplesService(ExampleStore* store, int max_add_batch)
      : store_(store), max_add_batch_(max_add_batch) {}

  grpc::Status DefinePopulation(
      grpc::ServerContext*, const cohort::v1::DefinePopulationRequest* request,
      cohort::v1::DefinePopulationResponse*) override {
    if (store_ == nullptr) return NoStore();
    const cohort::v1::PopulationSpec& spec = request->population();
    PopulationSchema schema;
    schema.name = spec.name();
    schema.shape.assign(spec.shape().begin(), spec.shape().end());
    schema.num_classes = spec.num_classes();
    return StoreStatus(store_->DefinePopulation(schema));
  }

  grpc::Status AddExamples(grpc::ServerContext*,
                           const cohort::v1::AddExamplesRequest* request,
                           cohort::v1::AddExamplesResponse* response) override {
    if (store_ == nullptr) return NoStore();
    if (request->examples_size() > max_add_batch_) {
      return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
          request->examples_size(), " examples in one call; at most ",
          max_add_batch_, " (local_api.max_add_batch)")));
    }
    std::vector<Example> examples(request->examples_size());
    for (int i = 0; i < request->examples_size(); ++i) {
      const cohort::v1::LocalExample& e = request->examples(i);
      examples[i].features.assign(e.features().begin(), e.features().end());
      examples[i].label = e.label();
    }
    if (absl::Status added = store_->AddBatch(request->population(), examples);
        !added.ok()) {
      return StoreStatus(added);
    }
    absl::StatusOr<int64_t> held = store_->Count(request->population());
    if (!held.ok()) return StoreStatus(held.status());
    response->set_held(*held);
    return grpc::Status::OK;
  }

  grpc::Status CountExamples(
      grpc::ServerContext*, const cohort::v1::CountExamplesRequest* request,
      cohort::v1::CountExamplesResponse* response) override {
    if (store_ == nullptr) return NoStore();
    absl::StatusOr<int64_t> held = store_->Count(request->population());
    if (!held.ok()) return StoreStatus(held.status());
    absl::StatusOr<ExampleStats> stats = store_->Stats(request->population());
    if (!stats.ok()) return StoreStatus(stats.status());
    response->set_held(*held);
    response->set_added(stats->added);
    return grpc::Status::OK;
  }

 private:
  static grpc::Status NoStore() {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "this agent trains on its Fashion-MNIST shard and keeps no example "
        "store; set example_store.path in its config"));
  }

  ExampleStore* const store_;
  const int max_add_batch_;
};

// The callback API: a Predict is answered on the thread that read it, with
// no hand-over to a thread pool, which is most of a small model's socket
// overhead (docs/BENCHMARKS.md, "Agent footprint").
class InferenceService final
    : public cohort::v1::LocalInference::CallbackService {
 public:
  InferenceService(ServedModel* model, int max_batch)
      : model_(model), max_batch_(max_batch) {}

  grpc::ServerUnaryReactor* Predict(
      grpc::CallbackServerContext* context,
      const cohort::v1::PredictRequest* request,
      cohort::v1::PredictResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Answer(*request, response));
    return reactor;
  }

 private:
  grpc::Status Answer(const cohort::v1::PredictRequest& request,
                      cohort::v1::PredictResponse* response) {
    if (request.batch() < 1 || request.batch() > max_batch_) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("batch ", request.batch(), " is outside [1, ",
                       max_batch_, "] (local_api.max_batch)")));
    }
    // Held for the whole call: a swap meanwhile does not touch it.
    const std::shared_ptr<ServingModel> model = model_->Current();
    if (model == nullptr) {
      return ToGrpcStatus(absl::FailedPreconditionError(
          "the agent holds no verified model yet; it gets one in its first "
          "round"));
    }
    absl::StatusOr<Prediction> answer =
        model->Predict(request.features(), request.batch());
    if (!answer.ok()) return ToGrpcStatus(answer.status());
    response->mutable_labels()->Add(answer->labels.begin(),
                                    answer->labels.end());
    response->mutable_probabilities()->Add(answer->probabilities.begin(),
                                           answer->probabilities.end());
    response->set_num_classes(answer->num_classes);
    response->set_model_version(model->info().version);
    response->set_release(model->info().release);
    response->set_kernels(model->info().kernels);
    return grpc::Status::OK;
  }

  ServedModel* const model_;
  const int max_batch_;
};

// Whether a process accepts connections on the socket at `path`.
bool SomeoneListens(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&address),
                            sizeof(address)) == 0;
  close(fd);
  return live;
}

}  // namespace

absl::Status ClearStaleSocket(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return SocketError(path, std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return SocketError(path, "exists and is not a socket; not replacing it");
  }
  if (SomeoneListens(path)) {
    return SocketError(path, "another process listens on it (is a second "
                             "agent running with this config?)");
  }
  if (unlink(path.c_str()) != 0) return SocketError(path, std::strerror(errno));
  LOG(INFO) << "removed the stale socket " << path;
  return absl::OkStatus();
}

struct LocalApiServer::Services {
  ExamplesService examples;
  InferenceService inference;
};

absl::StatusOr<std::unique_ptr<LocalApiServer>> LocalApiServer::Start(
    const LocalApiOptions& options, ExampleStore* store, ServedModel* model) {
  const std::string& path = options.socket_path;
  // sockaddr_un holds 108 bytes with the terminating NUL.
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return SocketError(path, "must be 1 to 107 bytes long");
  }
  COHORT_RETURN_IF_ERROR(ClearStaleSocket(path));
  auto services = std::unique_ptr<Services>(
      new Services{ExamplesService(store, options.max_add_batch),
                   InferenceService(model, options.max_batch)});
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&services->examples);
  builder.RegisterService(&services->inference);
  builder.SetMaxReceiveMessageSize(kMaxLocalMessageBytes);
  // No thread quota: gRPC's sync server refuses, rather than queues, calls
  // past one, and applications would see RESOURCE_EXHAUSTED for load.
  // Predict calls on one model are serialised by the model anyway.
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return SocketError(path, "cannot listen (does its folder exist, and may "
                             "the agent write there?)");
  }
  if (chmod(path.c_str(), 0660) != 0) {
    const std::string why = std::strerror(errno);
    server->Shutdown();
    return SocketError(path, absl::StrCat("cannot set mode 0660: ", why));
  }
  LOG(INFO) << "local API on unix:" << path;
  return std::unique_ptr<LocalApiServer>(
      new LocalApiServer(path, std::move(services), std::move(server)));
}

LocalApiServer::LocalApiServer(std::string socket_path,
                               std::unique_ptr<Services> services,
                               std::unique_ptr<grpc::Server> server)
    : socket_path_(std::move(socket_path)),
      services_(std::move(services)),
      server_(std::move(server)) {}

LocalApiServer::~LocalApiServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  unlink(socket_path_.c_str());
}

}  // namespace cohort::client
