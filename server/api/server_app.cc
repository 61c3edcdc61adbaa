#include "server/api/server_app.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/clock.h"
#include "common/base/descriptor_limit.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/secure_random.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "server/api/admin_service.h"
#include "server/api/coordination.h"
#include "server/api/coordinator_service.h"
#include "server/api/engine_health.h"
#include "server/api/enrollment_service.h"
#include "server/api/front_door.h"
#include "server/api/health_monitor.h"
#include "server/api/tls.h"
#include "server/metrics/device_api_metrics.h"
#include "server/metrics/live_gauges.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/round_counters.h"
#include "server/metrics/store_metrics.h"
#include "server/registry/release_signer.h"
#include "server/round/ml_task_model.h"
#include "server/round/report_size.h"
#include "server/round/run_recorder.h"
#include "server/round/task_assembly.h"
#include "server/store/directory_store.h"
#include "server/store/postgres_store.h"

namespace cohort::server {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreOptions& options) {
  if (options.backend == StoreOptions::Backend::kPostgres) {
    COHORT_ASSIGN_OR_RETURN(
        auto store,
        PostgresStore::Connect(options.postgres_dsn,
                               options.postgres_statement_timeout,
                               options.postgres_call_timeout,
                               options.postgres_idle_in_transaction_timeout));
    return std::unique_ptr<Store>(std::move(store));
  }
  COHORT_ASSIGN_OR_RETURN(auto store, DirectoryStore::Open(options.directory));
  return std::unique_ptr<Store>(std::move(store));
}

namespace {

// A directory only this user can enter (mkdtemp makes it 0700), holding the
// Unix socket gRPC serves on behind the FrontDoor. Removed on destruction.
class PrivateSocketDir {
 public:
  static absl::StatusOr<std::unique_ptr<PrivateSocketDir>> Create() {
    char pattern[] = "/tmp/cohort-server.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      return absl::InternalError(absl::StrCat(
          "mkdtemp /tmp/cohort-server.XXXXXX: ", std::strerror(errno)));
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
    const ServerOptions& options,
    std::shared_ptr<grpc::ServerCredentials> credentials,
    grpc::Service* service) {
  const FrontDoorOptions& limits = options.limits;
  DeviceApi api;
  COHORT_ASSIGN_OR_RETURN(api.socket_dir, PrivateSocketDir::Create());
  COHORT_ASSIGN_OR_RETURN(
      api.door, FrontDoor::Listen(options.listen_address,
                                  api.socket_dir->socket_path(), limits));

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + api.socket_dir->socket_path(),
                           credentials);
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(
      options.max_message_bytes, std::numeric_limits<int>::max())));
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
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      ms(limits.min_client_keepalive));
  // HTTP/2 DATA frames of up to 1 MiB instead of 16 KiB: a report of
  // megabytes then costs gRPC a few frame headers and flow-control updates
  // instead of hundreds (bench/limits: ingest_vs_raw_tls). Memory stays
  // bounded by the streams' windows and the quota below, not the frame size.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  grpc::ResourceQuota quota("cohort-server");
  quota.Resize(static_cast<size_t>(limits.max_buffered_bytes));
  builder.SetResourceQuota(quota);
  builder.RegisterService(service);
  api.grpc = builder.BuildAndStart();
  if (api.grpc == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on ", api.socket_dir->socket_path()));
  }
  api.door->Start();
  return api;
}

// The operator's admin API: gRPC on its own port, with the device port's
// credentials (mTLS: the resolver requires tls.ca_cert_path), or nothing
// when admin.listen_address is empty. Members are destroyed server first.
struct AdminApi {
  std::unique_ptr<AdminService> service;
  std::unique_ptr<grpc::Server> grpc;
};

absl::StatusOr<AdminApi> ServeAdminApi(
    const AdminOptions& options,
    std::shared_ptr<grpc::ServerCredentials> credentials, Store* store,
    RoundEngine* engine, const FleetCa* ca) {
  AdminApi api;
  if (!options.enabled()) return api;
  api.service = std::make_unique<AdminService>(store, engine,
                                               options.allowed_subjects, ca);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &port);
  builder.RegisterService(api.service.get());
  api.grpc = builder.BuildAndStart();
  if (api.grpc == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("admin.listen_address: cannot serve the admin API on ",
                     options.listen_address, " (in use?)"));
  }
  LOG(INFO) << "serving the admin API on port " << port
            << " (mTLS; allowed subjects: "
            << absl::StrJoin(options.allowed_subjects, ", ") << ")";
  if (options.port_file.empty()) return api;
  COHORT_RETURN_IF_ERROR(
      base::WriteFileAtomically(options.port_file, absl::StrCat(port, "\n")));
  return api;
}

// The enrollment port (coordinator.proto, service Enrollment): the device
// port's certificate, no client certificate (the device has none yet).
// Nothing when enrollment is off. Members are destroyed server first.
struct EnrollmentApi {
  std::unique_ptr<FleetCa> ca;
  std::unique_ptr<EnrollmentService> service;
  std::unique_ptr<grpc::Server> grpc;
};

absl::StatusOr<EnrollmentApi> ServeEnrollment(const ServerOptions& options,
                                              Store* store) {
  EnrollmentApi api;
  const EnrollmentOptions& o = options.enrollment;
  if (!o.enabled()) return api;
  COHORT_ASSIGN_OR_RETURN(
      api.ca,
      FleetCa::Load(options.tls.ca_cert_path(), o.ca_key_path,
                    o.certificate_validity, options.admin.allowed_subjects));
  cohort::v1::TlsConfig server_only = options.tls;
  server_only.clear_ca_cert_path();
  COHORT_ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(server_only));
  api.service = std::make_unique<EnrollmentService>(api.ca.get(), store,
                                                    base::RealClock::Get());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen_address, credentials, &port);
  builder.RegisterService(api.service.get());
  // A CSR and a token are a few KiB; a few threads sign. The port has no
  // connection cap of its own (the device port's FrontDoor does not cover
  // it): keep it off networks that devices do not enroll from.
  builder.SetMaxReceiveMessageSize(64 << 10);
  grpc::ResourceQuota quota("cohort-enrollment");
  quota.SetMaxThreads(4);
  builder.SetResourceQuota(quota);
  api.grpc = builder.BuildAndStart();
  if (api.grpc == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("enrollment.listen_address: cannot serve enrollment on ",
                     o.listen_address, " (in use?)"));
  }
  LOG(INFO) << "serving enrollment on port " << port
            << " (server-authenticated TLS; device certificates valid "
            << absl::FormatDuration(o.certificate_validity) << ")";
  if (o.port_file.empty()) return api;
  COHORT_RETURN_IF_ERROR(
      base::WriteFileAtomically(o.port_file, absl::StrCat(port, "\n")));
  return api;
}

// How often the store is probed for grpc.health.v1.
constexpr absl::Duration kHealthProbeInterval = absl::Seconds(5);

// Stops the admin API first (a rollback that arrives now gets UNAVAILABLE
// from the stopped engine; one in flight finishes within the deadline),
// then enrollment, then the device API.
void StopServing(AdminApi& admin, EnrollmentApi& enrollment,
                 DeviceApi& devices) {
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(2);
  if (admin.grpc != nullptr) admin.grpc->Shutdown(deadline);
  if (enrollment.grpc != nullptr) enrollment.grpc->Shutdown(deadline);
  devices.door->Stop();
  devices.grpc->Shutdown(deadline);
}

TaskModelSpec ModelSpecOf(const ServerOptions& options) {
  TaskModelSpec spec;
  spec.torchscript_path = options.torchscript_path;
  spec.architecture = options.architecture;
  spec.seed = options.seed;
  spec.max_message_bytes = options.max_message_bytes;
  return spec;
}

absl::StatusOr<std::unique_ptr<Store>> OpenStoreForServer(
    const StoreOptions& options) {
  auto opened = OpenStore(options);
  if (!opened.ok()) {
    return absl::Status(
        opened.status().code(),
        absl::StrCat("cannot open the store: ", opened.status().message()));
  }
  return std::move(*opened);
}

// Writes the bound port to port_file, if asked.
absl::Status WritePortFile(const ServerOptions& options, int port) {
  if (options.port_file.empty()) return absl::OkStatus();
  return base::WriteFileAtomically(options.port_file, absl::StrCat(port, "\n"));
}

// Announces the bound port in the log and, if asked, in port_file.
absl::Status AnnounceServing(const ServerOptions& options, int port,
                             int64_t model_version) {
  LOG(INFO) << "serving task " << options.round.task << " on port " << port
            << " (TLS" << (options.tls.ca_cert_path().empty() ? "" : ", mTLS")
            << "), model version " << model_version;
  return WritePortFile(options, port);
}

// The release key, or null when releases are not signed. Errors of
// ReleaseSigner::Load (a missing file, a certificate for another key).
absl::StatusOr<std::unique_ptr<ReleaseSigner>> LoadSigner(
    const SigningOptions& signing) {
  if (!signing.enabled()) {
    LOG(WARNING) << "signing is not configured: versions go to devices "
                    "unsigned, and agents that pin a root refuse them";
    return nullptr;
  }
  auto signer = ReleaseSigner::Load(
      signing.release_key_path, signing.certificate_path, signing.root_paths);
  if (!signer.ok()) {
    return absl::Status(signer.status().code(),
                        absl::StrCat("signing: ", signer.status().message()));
  }
  LOG(INFO) << "signing releases with release key " << (*signer)->key_id();
  return signer;
}

// What the metrics port reads at each scrape: the engine's current release
// and pause, and the public port's counters. Both must outlive the metrics
// server (Serve declares it after them).
std::shared_ptr<LiveGauges> LiveGaugesOf(const std::string& task,
                                         const RoundEngine& engine,
                                         const FrontDoor& door) {
  return std::make_shared<LiveGauges>(task, [&engine, &door] {
    const FrontDoor::Counters& c = door.counters();
    LiveState state;
    state.model = engine.current_model();
    state.paused = engine.paused();
    state.connections =
        ConnectionCounts{.accepted = c.accepted.load(),
                         .refused = c.refused.load(),
                         .shed = c.shed_on_descriptor_exhaustion.load(),
                         .open = c.open.load(),
                         .unauthenticated = c.unauthenticated.load()};
    return state;
  });
}

// grpc.health.v1 on both ports (EnableDefaultHealthCheckService) follows
// the store: NOT_SERVING while a cheap read of it fails, SERVING again when
// it answers. The engine hears each finding too, and pauses check-ins
// while the store is away.
std::unique_ptr<HealthMonitor> WatchHealth(Store* store, RoundEngine* engine,
                                           const std::string& task,
                                           std::vector<grpc::Server*> servers) {
  auto monitor = std::make_unique<HealthMonitor>(
      [store, engine, task] {
        absl::Status status = store->LastRoundId(task).status();
        engine->SetStoreHealth(status);
        return status;
      },
      [servers](bool serving, const absl::Status&) {
        for (grpc::Server* server : servers) {
          if (server == nullptr) continue;
          grpc::HealthCheckServiceInterface* health =
              server->GetHealthCheckService();
          if (health != nullptr) health->SetServingStatus(serving);
        }
      },
      kHealthProbeInterval);
  monitor->Start();
  return monitor;
}

// Tells systemd and the log that the engine has stopped.
void ReportStopping(base::ServiceNotifier& notifier,
                    const RoundEngine& engine) {
  const std::string what = absl::StrCat(
      "stopping after ", engine.rounds_committed(),
      " committed rounds; model version ", engine.current_model()->version);
  base::NotifyStopping(notifier, what);
  LOG(INFO) << what;
}

absl::Status Serve(const ServerOptions& options, absl::Notification* stop,
                   base::ServiceNotifier* notifier) {
  grpc::EnableDefaultHealthCheckService(true);
  COHORT_ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(options.tls));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                          OpenStoreForServer(options.store));
  // Stopped by `stop`, or by the lease keeper when the lease is lost.
  absl::Notification engine_stop;
  Coordination coordination;
  COHORT_ASSIGN_OR_RETURN(
      store, OpenCoordination(options, std::move(store), &coordination));
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset holdout,
      data::LoadFashionMnist(options.holdout_dir, /*test_split=*/true,
                             options.holdout_examples));
  COHORT_ASSIGN_OR_RETURN(auto recorder,
                          RunRecorder::Create(options.run_dir, stdout));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ReleaseSigner> signer,
                          LoadSigner(options.signing));
  auto counters = std::make_shared<RoundCounters>(options.round.task);
  // One registry holds every counted metric; it outlives what feeds it.
  prometheus::Registry& registry = *counters->registry();
  store = std::make_unique<InstrumentedStore>(
      std::move(store), options.round.task, registry, base::RealClock::Get());
  DeviceApiMetrics device_api(options.round.task, registry);
  // A coordinator that shares its task starts the engine once it leads.
  COHORT_ASSIGN_OR_RETURN(
      AssembledTask task,
      (coordination.enabled() ? PrepareTask : AssembleTask)(
          std::move(store), ModelSpecOf(options), std::move(holdout),
          options.round, base::RealClock::Get(),
          [&recorder, counters](const RoundSummary& s) {
            recorder->Record(s);
            counters->Record(s);
          },
          ReleaseSetup{signer.get(), options.signing.manifest_ttl}));
  RoundEngine& engine = *task.engine;
  COHORT_ASSIGN_OR_RETURN(EnrollmentApi enrollment,
                          ServeEnrollment(options, task.store.get()));
  Leadership leadership(options.round.retry_min, options.round.retry_max);
  if (coordination.enabled()) leadership.StandBy("starting up");
  CheckInLimiter limiter(options.limits.check_in, base::RealClock::Get());
  CoordinatorService service(
      &engine, &device_api, enrollment.ca.get(),
      {.check_in = options.limits.check_in_timeout,
       .after_report_deadline = options.limits.report_grace},
      &leadership, &limiter);
  COHORT_ASSIGN_OR_RETURN(auto serving,
                          ServeDeviceApi(options, credentials, &service));
  // The keeper's thread deposes the task's store and stands the service by
  // when the lease is lost: it stops before any of them goes.
  absl::Cleanup stop_keeper = [&coordination] {
    if (coordination.enabled()) coordination.keeper->Finish();
  };
  if (coordination.enabled()) {
    LOG(INFO) << "device port " << serving.door->port()
              << " open; standing by for the lease on task "
              << options.round.task;
    COHORT_RETURN_IF_ERROR(WritePortFile(options, serving.door->port()));
    absl::StatusOr<bool> leading =
        LeadWhenGranted(coordination, stop, &engine_stop, engine, leadership,
                        *serving.grpc, *notifier);
    if (!leading.ok() || !*leading) {
      AdminApi no_admin;
      StopServing(no_admin, enrollment, serving);
      return leading.status();
    }
  }
  COHORT_ASSIGN_OR_RETURN(
      AdminApi admin,
      ServeAdminApi(options.admin, credentials, task.store.get(), &engine,
                    enrollment.ca.get()));
  COHORT_ASSIGN_OR_RETURN(
      std::unique_ptr<MetricsServer> metrics,
      ServeMetrics(options.metrics,
                   {counters->registry(),
                    LiveGaugesOf(options.round.task, engine, *serving.door)}));
  COHORT_RETURN_IF_ERROR(AnnounceServing(options, serving.door->port(),
                                         engine.current_model()->version));
  auto health = WatchHealth(
      task.store.get(), &engine, options.round.task,
      {serving.grpc.get(), admin.grpc.get(), enrollment.grpc.get()});
  auto monitor = NotifyServing(*notifier, engine, serving.door->port(),
                               base::RealClock::Get());
  engine.Run(coordination.enabled() ? &engine_stop : stop);
  monitor.reset();  // no watchdog pings once the engine has stopped
  health.reset();
  ReportStopping(*notifier, engine);
  StopServing(admin, enrollment, serving);
  if (!coordination.enabled()) return absl::OkStatus();
  coordination.keeper->Finish();  // releases the lease unless it was lost
  return coordination.keeper->lost();
}

}  // namespace

absl::Status RunServer(const cohort::v1::ServerConfig& config,
                       absl::Notification* stop,
                       base::ServiceNotifier* notifier) {
  COHORT_ASSIGN_OR_RETURN(
      ServerOptions options,
      ResolveServerOptions(config, base::RaiseDescriptorLimit()));
  // Unknown to devices, so none can choose its SecAgg group by its id.
  crypto::OpenSslRandom random;
  COHORT_RETURN_IF_ERROR(
      random.Fill(absl::MakeSpan(options.round.secagg.group_key)));
  return Serve(options, stop, notifier);
}

}  // namespace cohort::server
