#include "server/api/server_app.h"

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/resource_quota.h"
#include "server/api/coordinator_service.h"
#include "server/api/tls.h"
#include "server/round/ml_task_model.h"
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
  const auto& holdout_cfg = config.holdout();
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset holdout,
      data::LoadFashionMnist(holdout_cfg.idx_dir().empty()
                                 ? data::kDefaultFashionMnistDir
                                 : holdout_cfg.idx_dir(),
                             /*test_split=*/true, holdout_cfg.max_examples()));
  const std::string arch =
      config.architecture().empty() ? "small_cnn" : config.architecture();
  const uint64_t seed = config.seed() == 0 ? 1 : config.seed();
  std::unique_ptr<MlTaskModel> task_model;
  if (!config.torchscript_path().empty()) {
    COHORT_ASSIGN_OR_RETURN(task_model, MlTaskModel::CreateFromTorchScript(
                                            config.torchscript_path(),
                                            std::move(holdout)));
  } else {
    COHORT_ASSIGN_OR_RETURN(task_model,
                            MlTaskModel::Create(arch, seed, std::move(holdout)));
  }
  COHORT_ASSIGN_OR_RETURN(auto recorder,
                          RunRecorder::Create(config.run_dir(), stdout));

  RoundEngine engine(options, store.get(), task_model.get(),
                     base::RealClock::Get(),
                     [&recorder](const RoundSummary& s) { recorder->Record(s); });
  COHORT_RETURN_IF_ERROR(engine.Start());

  CoordinatorService service(&engine);
  grpc::ServerBuilder builder;
  const std::string address = config.listen_address().empty()
                                  ? "127.0.0.1:50051"
                                  : config.listen_address();
  int port = 0;
  builder.AddListeningPort(address, credentials, &port);
  const int64_t max_bytes = config.max_message_bytes() > 0
                                ? config.max_message_bytes()
                                : int64_t{16} << 20;
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<int64_t>(max_bytes, std::numeric_limits<int>::max())));
  // Bound what the network can make the server hold: concurrent streams per
  // connection and the total memory gRPC may use for buffers.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1024);
  grpc::ResourceQuota quota("cohort-server");
  quota.Resize(size_t{1} << 30);
  builder.SetResourceQuota(quota);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (in use or invalid)"));
  }
  LOG(INFO) << "serving task " << options.task << " on port " << port
            << " (TLS" << (config.tls().ca_cert_path().empty() ? "" : ", mTLS")
            << "), model version " << engine.current_model()->version;
  if (!config.port_file().empty()) {
    COHORT_RETURN_IF_ERROR(
        base::WriteFileAtomically(config.port_file(), absl::StrCat(port, "\n")));
  }
  engine.Run(stop);
  LOG(INFO) << "stopping after " << engine.rounds_committed()
            << " committed rounds; model version "
            << engine.current_model()->version;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return absl::OkStatus();
}

}  // namespace cohort::server
