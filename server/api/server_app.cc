#include "server/api/server_app.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/descriptor_limit.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/resource_quota.h"
#include "server/api/coordinator_service.h"
#include "server/api/front_door.h"
#include "server/api/tls.h"
#include "server/round/ml_task_model.h"
#include "server/round/report_size.h"
#include "server/round/run_recorder.h"
#include "server/store/directory_store.h"
#include "server/store/postgres_store.h"

namespace cohort::server {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(
    const cohort::v1::StoreConfig& config) {
  if (config.backend() == cohort::v1::StoreConfig::POSTGRES) {
    if (config.postgres_dsn().empty()) {
      return absl::InvalidArgumentError(
          "store.postgres_dsn is required for the POSTGRES backend");
    }
    COHORT_ASSIGN_OR_RETURN(auto store,
                            PostgresStore::Connect(config.postgres_dsn()));
    return std::unique_ptr<Store>(std::move(store));
  }
  std::string dir =
      config.directory().empty() ? "cohort-state" : config.directory();
  COHORT_ASSIGN_OR_RETURN(auto store, DirectoryStore::Open(dir));
  return std::unique_ptr<Store>(std::move(store));
}

namespace {

int64_t MaxMessageBytes(const cohort::v1::ServerConfig& config) {
  return config.max_message_bytes() > 0 ? config.max_message_bytes()
                                        : kDefaultMaxMessageBytes;
}

// A directory only this user can enter (mkdtemp makes it 0700), holding the
// Unix socket gRPC serves on behind the FrontDoor. Removed on destruction.
class PrivateSocketDir {
 public:
  static absl::StatusOr<std::unique_ptr<PrivateSocketDir>> Create() {
    char pattern[] = "/tmp/cohort-server.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp /tmp/cohort-server.XXXXXX: ", std::strerror(errno)));
    }
    return std::unique_ptr<PrivateSocketDir>(new PrivateSocketDir(pattern));
  }
  ~PrivateSocketDir() {
    ::unlink(socket_path().c_str());
    ::rmdir(dir_.c_str());
  }
  std::string socket_path() const { return dir_ + "/device-api.sock"; }

 private:
  explicit PrivateSocketDir(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// The device API: gRPC on a private Unix socket, the public port held by a
// FrontDoor that bounds connections and descriptors (see front_door.h).
struct DeviceApi {
  std::unique_ptr<PrivateSocketDir> socket_dir;
  std::unique_ptr<grpc::Server> grpc;
  std::unique_ptr<FrontDoor> door;
};

absl::StatusOr<DeviceApi> ServeDeviceApi(
    const cohort::v1::ServerConfig& config,
    std::shared_ptr<grpc::ServerCredentials> credentials,
    grpc::Service* service) {
  COHORT_ASSIGN_OR_RETURN(
      FrontDoorOptions limits,
      ResolveFrontDoorOptions(config.limits(), base::RaiseDescriptorLimit(),
                              MaxMessageBytes(config)));
  DeviceApi api;
  COHORT_ASSIGN_OR_RETURN(api.socket_dir, PrivateSocketDir::Create());
  const std::string address = config.listen_address().empty()
                                  ? "127.0.0.1:50051"
                                  : config.listen_address();
  COHORT_ASSIGN_OR_RETURN(
      api.door, FrontDoor::Listen(address, api.socket_dir->socket_path(), limits));

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + api.socket_dir->socket_path(), credentials);
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(
      MaxMessageBytes(config), std::numeric_limits<int>::max())));
  // Bound what connections can make the server hold: concurrent streams,
  // the time to finish the TLS handshake, and gRPC's buffer memory (gRPC
  // buffers a message whole before checking its size; past the quota it
  // cancels streams rather than grow).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1024);
  auto ms = [](absl::Duration d) {
    return static_cast<int>(absl::ToInt64Milliseconds(d));
  };
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             ms(limits.handshake_timeout));
  // Keepalive in both directions, also on idle streams (devices training):
  // without it a NAT or proxy with an idle timeout cuts the stream.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(limits.keepalive));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(limits.min_client_keepalive));
  grpc::ResourceQuota quota("cohort-server");
  quota.Resize(static_cast<size_t>(limits.max_buffered_bytes));
  builder.SetResourceQuota(quota);
  builder.RegisterService(service);
  api.grpc = builder.BuildAndStart();
  if (api.grpc == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve gRPC on ", api.socket_dir->socket_path()));
  }
  api.door->Start();
  return api;
}

// The task's model, evaluated on the holdout set, and refused when a
// device's report of it could not reach this server.
absl::StatusOr<std::unique_ptr<MlTaskModel>> LoadTaskModel(
    const cohort::v1::ServerConfig& config, const RoundOptions& options) {
  const auto& holdout_cfg = config.holdout();
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset holdout,
      data::LoadFashionMnist(holdout_cfg.idx_dir().empty()
                                 ? data::kDefaultFashionMnistDir
                                 : holdout_cfg.idx_dir(),
                             /*test_split=*/true, holdout_cfg.max_examples()));
  COHORT_ASSIGN_OR_RETURN(
      auto task_model,
      MlTaskModel::CreateForConfig(config.torchscript_path(),
                                   config.architecture(),
                                   config.seed() == 0 ? 1 : config.seed(),
                                   std::move(holdout)));
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights initial,
                          task_model->InitialWeights());
  COHORT_RETURN_IF_ERROR(CheckReportFits(initial, options,
                                         MaxMessageBytes(config),
                                         "max_message_bytes"));
  return task_model;
}

}  // namespace

absl::Status RunServer(const cohort::v1::ServerConfig& config,
                       absl::Notification* stop) {
  COHORT_ASSIGN_OR_RETURN(
      RoundOptions options,
      ResolveRoundOptions(config.task(), config.round(), config.plan()));
  COHORT_ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(config.tls()));
  std::unique_ptr<Store> store;
  {
    auto opened = OpenStore(config.store());
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("cannot open the store: ",
                                       opened.status().message()));
    }
    store = std::move(*opened);
  }
  COHORT_ASSIGN_OR_RETURN(auto task_model, LoadTaskModel(config, options));
  COHORT_ASSIGN_OR_RETURN(auto recorder,
                          RunRecorder::Create(config.run_dir(), stdout));

  RoundEngine engine(options, store.get(), task_model.get(),
                     base::RealClock::Get(),
                     [&recorder](const RoundSummary& s) { recorder->Record(s); });
  COHORT_RETURN_IF_ERROR(engine.Start());

  CoordinatorService service(&engine);
  COHORT_ASSIGN_OR_RETURN(auto serving,
                          ServeDeviceApi(config, credentials, &service));
  LOG(INFO) << "serving task " << options.task << " on port "
            << serving.door->port() << " (TLS"
            << (config.tls().ca_cert_path().empty() ? "" : ", mTLS")
            << "), model version " << engine.current_model()->version;
  if (!config.port_file().empty()) {
    COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
        config.port_file(), absl::StrCat(serving.door->port(), "\n")));
  }
  engine.Run(stop);
  LOG(INFO) << "stopping after " << engine.rounds_committed()
            << " committed rounds; model version "
            << engine.current_model()->version;
  serving.door->Stop();
  serving.grpc->Shutdown(std::chrono::system_clock::now() +
                         std::chrono::seconds(2));
  return absl::OkStatus();
}

}  // namespace cohort::server
