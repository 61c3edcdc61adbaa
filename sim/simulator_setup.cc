#include "sim/simulator.h"

// Setting a simulation up: options, data, population, the task assembly
// shared with cohort-server, and the transport. The rounds are in
// simulator.cc.

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "client/transport/grpc_transport.h"
#include "common/crypto/ed25519.h"
#include "common/model/signing.h"
#include "common/base/status_macros.h"
#include "common/ml/model.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "server/api/tls.h"
#include "server/round/task_assembly.h"
#include "server/store/directory_store.h"
#include "sim/in_process_transport.h"
#include "sim/sim_options.h"

namespace cohort::sim {
namespace {

// A scenario whose devices leave SecAgg+ more often than its thresholds
// plan for (expected_dropout) gets aborted rounds; say so before it starts.
void WarnOnUnplannedSecAggDropout(const cohort::v1::DeviceProfileConfig& d,
                                  const server::RoundOptions& options) {
  if (!options.secagg.enabled) return;
  const double left = 1 - (1 - d.secagg_dropout_after_keys()) *
                              (1 - d.secagg_dropout_after_shares()) *
                              (1 - d.secagg_dropout_after_masked_input());
  if (left <= options.secagg.expected_dropout) return;
  LOG(WARNING) << "devices leave SecAgg+ with probability " << left
               << " (devices.secagg_dropout_*) but SecAgg+ thresholds are "
                  "planned for round.secure_aggregation.expected_dropout = "
               << options.secagg.expected_dropout
               << ": expect rounds to abort below the threshold";
}

// A root (one key) and a release key it certifies, made for one run and
// never written down: the simulator signs releases and checks them as
// pinned agents do, through the same code. Valid for 100 years of
// simulated time from `now`.
absl::Status MakeRunKeys(absl::Time now, crypto::SecureRandom& random,
                         std::unique_ptr<server::ReleaseSigner>* signer,
                         std::optional<model::TrustedRoot>* root) {
  COHORT_ASSIGN_OR_RETURN(auto root_key,
                          crypto::Ed25519PrivateKey::Generate(random));
  COHORT_ASSIGN_OR_RETURN(auto release_key,
                          crypto::Ed25519PrivateKey::Generate(random));
  const int64_t expires = absl::ToUnixMillis(now + absl::Hours(24 * 365 * 100));
  auto raw = [](const crypto::Ed25519PrivateKey& k) {
    return std::string(k.PublicKey().bytes().begin(), k.PublicKey().bytes().end());
  };
  cohort::v1::RootMetadata metadata;
  metadata.set_version(1);
  metadata.add_keys(raw(root_key));
  metadata.set_threshold(1);
  metadata.set_expires_at_unix_ms(expires);
  cohort::v1::ReleaseKeyCertificate cert;
  cert.set_key(raw(release_key));
  cert.set_root_version(1);
  cert.set_expires_at_unix_ms(expires);
  COHORT_ASSIGN_OR_RETURN(
      *signer, server::ReleaseSigner::Create(
                   release_key, model::CertifyReleaseKey(cert, {root_key})));
  COHORT_ASSIGN_OR_RETURN(
      model::TrustedRoot trusted,
      model::TrustedRoot::FromPinned(model::SignRoot(metadata, {root_key})));
  root->emplace(std::move(trusted));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(
    const cohort::v1::SimConfig& config, TransportKind transport,
    const std::string& state_dir, RankChannel* ranks) {
  COHORT_ASSIGN_OR_RETURN(const SimOptions o, ResolveSimOptions(config));
  std::unique_ptr<Simulator> sim(new Simulator());
  // simulator.h still holds a SimConfig: config_ carries only the resolved
  // values later members read (seed, max_message_bytes, grpc_tls).
  sim->config_.set_seed(o.seed);
  sim->config_.set_max_message_bytes(o.max_message_bytes);
  *sim->config_.mutable_grpc_tls() = o.grpc_tls;
  sim->options_ = o.round;
  sim->poison_ = o.poison;
  // Client-level parallelism comes from the pool; one intra-op thread keeps
  // every client's arithmetic independent of the thread count.
  ml::SetNumThreads(1);
  COHORT_ASSIGN_OR_RETURN(data::ImageDataset holdout, sim->SetUpClients(o, ranks));
  COHORT_ASSIGN_OR_RETURN(auto store, server::DirectoryStore::Open(state_dir));
  WarnOnUnplannedSecAggDropout(o.devices, sim->options_);
  server::TaskModelSpec model;
  model.torchscript_path = o.torchscript_path;
  model.architecture = o.architecture;
  model.seed = o.seed;
  model.max_message_bytes = o.max_message_bytes;
  Simulator* raw = sim.get();
  COHORT_RETURN_IF_ERROR(MakeRunKeys(sim->clock_.Now(), sim->random_,
                                     &sim->signer_, &sim->root_));
  COHORT_ASSIGN_OR_RETURN(
      server::AssembledTask task,
      server::AssembleTask(std::move(store), model, std::move(holdout),
                           sim->options_, &sim->clock_,
                           [raw](const server::RoundSummary& s) { raw->OnRoundEnd(s); },
                           server::ReleaseSetup{sim->signer_.get()}));
  sim->store_ = std::move(task.store);
  sim->task_model_ = std::move(task.task_model);
  sim->registry_ = std::move(task.registry);
  sim->engine_ = std::move(task.engine);
  COHORT_RETURN_IF_ERROR(sim->SetUpTransport(transport));
  return sim;
}

absl::StatusOr<std::string> Simulator::Download(
    const cohort::v1::ModelRef& ref) {
  {
    absl::MutexLock lock(&downloads_mu_);
    auto held = downloads_.find(ref.version());
    if (held != downloads_.end()) return held->second;
  }
  return transport_->FetchModel(ref, "sim");
}

absl::StatusOr<data::ImageDataset> Simulator::SetUpClients(
    const SimOptions& o, RankChannel* ranks) {
  data::ImageDataset holdout;
  COHORT_ASSIGN_OR_RETURN(clients_, ClientData::Load(o, &holdout));
  // Clients download through the simulator's transport, as agents do.
  work_ = std::make_unique<ClientWork>(
      o.seed, o.poison, clients_->personalization.get(),
      [this](const cohort::v1::ModelRef& ref) { return Download(ref); });
  training_ = std::make_unique<RankedTraining>(
      o.threads, work_.get(), clients_->personalization.get(), ranks);
  evaluator_ = client::LocalTrainer::CreateWithoutData();
  devices_ = std::make_unique<DeviceModel>(o.devices, o.seed);
  return holdout;
}

absl::Status Simulator::SetUpTransport(TransportKind transport) {
  if (transport == TransportKind::kInProcess) {
    transport_ = std::make_unique<InProcessTransport>(engine_.get());
    return absl::OkStatus();
  }
  if (options_.secagg.enabled) {
    return absl::InvalidArgumentError(
        "secure aggregation runs with the in-process transport only (the "
        "simulator plays every device on one thread; real agents run it "
        "over gRPC)");
  }
  return StartGrpc();
}

// Resolved by ResolveSimOptions (Create stores it in config_).
int64_t Simulator::max_message_bytes() const {
  return config_.max_message_bytes();
}

Simulator::~Simulator() {
  training_.reset();
  transport_.reset();
  if (server_) server_->Shutdown();
}

absl::Status Simulator::StartGrpc() {
  // Virtual clients present no certificates: the CA is only the clients'
  // trust root, so the server side gets cert and key alone (TLS, not mTLS).
  cohort::v1::TlsConfig server_tls = config_.grpc_tls();
  server_tls.clear_ca_cert_path();
  COHORT_ASSIGN_OR_RETURN(auto creds, server::MakeServerCredentials(server_tls));
  service_ = std::make_unique<server::CoordinatorService>(engine_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", creds, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<int64_t>(max_message_bytes(), std::numeric_limits<int>::max())));
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError("cannot start the loopback gRPC server");
  }
  // Virtual clients trust the configured CA and present no certificate.
  cohort::v1::TlsConfig client_tls;
  client_tls.set_ca_cert_path(config_.grpc_tls().ca_cert_path());
  COHORT_ASSIGN_OR_RETURN(
      transport_, client::GrpcTransport::Connect(
                      absl::StrCat("127.0.0.1:", port), client_tls, "localhost"));
  return absl::OkStatus();
}

}  // namespace cohort::sim
