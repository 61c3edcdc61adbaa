#include "sim/simulator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "client/train/client_task.h"
#include "client/transport/grpc_transport.h"
#include "common/base/random.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/model/flat_weights.h"
#include "common/ml/model.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "server/api/tls.h"
#include "server/store/directory_store.h"
#include "sim/in_process_transport.h"
#include "sim/sim_config.h"

namespace cohort::sim {
namespace {

constexpr uint64_t kSelectStream = 11;
constexpr uint64_t kTrainStream = 12;
constexpr uint64_t kRoundingStream = 13;
// Consecutive abandoned or unfillable round attempts before giving up.
constexpr int kMaxFailedAttempts = 20;

std::string DeviceName(int64_t id) { return absl::StrCat("client-", id); }

double WallSeconds() { return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()); }

struct Participant {
  int64_t id = 0;
  std::unique_ptr<client::ParticipationSession> session;
  ClientTimeline timeline;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(
    const cohort::v1::SimConfig& config, TransportKind transport,
    const std::string& state_dir) {
  std::unique_ptr<Simulator> sim(new Simulator());
  sim->config_ = config;
  // Client-level parallelism comes from the pool; one intra-op thread keeps
  // every client's arithmetic independent of the thread count.
  ml::SetNumThreads(1);
  COHORT_ASSIGN_OR_RETURN(sim->train_,
                          data::LoadFashionMnist(config.data().idx_dir(), false));
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset holdout,
      data::LoadFashionMnist(config.data().idx_dir(), true,
                             config.holdout_examples()));
  COHORT_ASSIGN_OR_RETURN(
      sim->population_,
      data::ClientPopulation::Create(ToPopulationSpec(config), &sim->train_));
  sim->devices_ = std::make_unique<DeviceModel>(config.devices(), config.seed());
  COHORT_ASSIGN_OR_RETURN(sim->options_,
                          server::ResolveRoundOptions("sim", config.round(),
                                                      config.plan()));
  COHORT_ASSIGN_OR_RETURN(auto store, server::DirectoryStore::Open(state_dir));
  sim->store_ = std::move(store);
  if (!config.torchscript_path().empty()) {
    COHORT_ASSIGN_OR_RETURN(sim->task_model_,
                            server::MlTaskModel::CreateFromTorchScript(
                                config.torchscript_path(), std::move(holdout)));
  } else {
    COHORT_ASSIGN_OR_RETURN(
        sim->task_model_,
        server::MlTaskModel::Create(config.architecture(), config.seed(),
                                    std::move(holdout)));
  }
  Simulator* raw = sim.get();
  sim->engine_ = std::make_unique<server::RoundEngine>(
      sim->options_, sim->store_.get(), sim->task_model_.get(), &sim->clock_,
      [raw](const server::RoundSummary& s) { raw->last_summary_ = s; });
  COHORT_RETURN_IF_ERROR(sim->engine_->Start());
  if (transport == TransportKind::kGrpc) {
    if (sim->options_.secagg.enabled) {
      return absl::InvalidArgumentError(
          "secure aggregation runs with the in-process transport only (the "
          "simulator plays every device on one thread; real agents run it "
          "over gRPC)");
    }
    COHORT_RETURN_IF_ERROR(sim->StartGrpc());
  } else {
    sim->transport_ = std::make_unique<InProcessTransport>(sim->engine_.get());
  }
  sim->pool_ = std::make_unique<TrainingPool>(
      config.threads(), static_cast<size_t>(4 * config.threads()));
  return sim;
}

Simulator::~Simulator() {
  pool_.reset();
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
  builder.SetMaxReceiveMessageSize(64 << 20);
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

absl::Status Simulator::Run(const Callbacks& callbacks) {
  wall_start_ = WallSeconds();
  int failed = 0;
  while (committed_ < config_.rounds()) {
    COHORT_ASSIGN_OR_RETURN(bool done, RunRound(callbacks));
    if (done) {
      failed = 0;
    } else if (++failed >= kMaxFailedAttempts) {
      return absl::FailedPreconditionError(absl::StrCat(
          kMaxFailedAttempts, " round attempts in a row were abandoned: too few "
          "clients are reachable or too many drop out to reach min_reports"));
    }
  }
  return absl::OkStatus();
}

absl::Status Simulator::SendReady(int64_t id,
                                  client::ParticipationSession* session,
                                  int64_t round_id, cohort::v1::Report report) {
  SecureClient c;
  c.id = id;
  c.session = session;
  c.participant = std::make_unique<secagg::SecAggParticipant>(
      model::FlattenFloats(report.delta()), report.num_examples(),
      report.train_loss(),
      MixKey(config_.seed(), kRoundingStream, static_cast<uint64_t>(id),
             static_cast<uint64_t>(round_id)),
      &random_);
  c.drop = devices_->SecAggDropOf(id, round_id);
  cohort::v1::ClientMessage ready;
  *ready.mutable_secagg() = c.participant->Ready(round_id);
  COHORT_RETURN_IF_ERROR(session->Send(ready));
  secure_.push_back(std::move(c));
  return absl::OkStatus();
}

absl::StatusOr<bool> Simulator::RunRound(const Callbacks& callbacks) {
  const int64_t attempt = ++attempts_;
  const absl::Time round_start = clock_.Now();
  base::Random pick(MixKey(config_.seed(), kSelectStream,
                           static_cast<uint64_t>(attempt)));
  const int64_t target = options_.selection_target();
  std::vector<Participant> assigned;
  std::set<int64_t> tried;
  cohort::v1::TaskAssignment assignment;

  // Selection: reachable clients check in until the engine stops assigning.
  for (int wait = 0; engine_->phase() == server::RoundPhase::kSelecting; ++wait) {
    int64_t draws = 0;
    while (engine_->phase() == server::RoundPhase::kSelecting &&
           static_cast<int64_t>(assigned.size()) < target &&
           draws++ < 50 * target + 1000) {
      int64_t id = static_cast<int64_t>(pick.Uniform(population_->num_clients()));
      if (tried.contains(id) || !devices_->Available(id, clock_.Seconds())) continue;
      tried.insert(id);
      auto session = transport_->OpenSession();
      cohort::v1::CheckIn check_in;
      check_in.set_device_id(DeviceName(id));
      check_in.set_population("sim");
      COHORT_ASSIGN_OR_RETURN(auto reply, session->CheckIn(check_in));
      if (!reply.has_task_assignment()) continue;
      assignment = reply.task_assignment();
      assigned.push_back({id, std::move(session), {}});
    }
    if (engine_->phase() != server::RoundPhase::kSelecting) break;
    if (wait >= kMaxFailedAttempts) {
      return absl::FailedPreconditionError(absl::StrCat(
          "only ", assigned.size(), " clients were reachable for a round that "
          "needs ", options_.min_reports));
    }
    // Too few reachable clients now: wait out the selection timeout.
    clock_.AdvanceTo(clock_.Now() + options_.selection_timeout);
    engine_->RunOnce();
  }
  if (engine_->phase() != server::RoundPhase::kReporting) {
    engine_->RunOnce();
    return false;
  }

  // Each client's round on the virtual clock, in event order.
  const int64_t round_id = assignment.round_id();
  const int64_t model_bytes = assignment.model().size_bytes();
  const int epochs = std::max(1, config_.plan().epochs());
  for (auto& p : assigned) {
    p.timeline = devices_->Plan(p.id, round_id, population_->NumExamplesOf(p.id),
                                epochs, model_bytes, model_bytes);
  }
  std::sort(assigned.begin(), assigned.end(), [](const auto& a, const auto& b) {
    return a.timeline.event_s != b.timeline.event_s
               ? a.timeline.event_s < b.timeline.event_s
               : a.id < b.id;
  });
  const absl::Time t0 = clock_.Now();
  const double deadline_s = absl::ToDoubleSeconds(
      absl::FromUnixMillis(assignment.report_deadline_unix_ms()) - t0);
  // Reporters: in-time survivors up to the goal. Later ones are closed by the
  // server when the goal is met, so they never upload and need not train.
  std::vector<size_t> reporters;
  for (size_t i = 0; i < assigned.size(); ++i) {
    const ClientTimeline& t = assigned[i].timeline;
    if (t.drop == DropPhase::kNone && t.event_s <= deadline_s &&
               static_cast<int>(reporters.size()) < options_.goal_count) {
      reporters.push_back(i);
    }
  }

  const auto ref = assignment.model();
  // The resolved plan, as agents receive it (e.g. QAT on for int8 tasks).
  const auto plan = assignment.plan();
  // As agents do: the architecture the assignment names (an imported
  // model's chain travels this way).
  const std::string arch = ref.architecture();
  pool_->Start(reporters.size(), [&, round_id](size_t k, client::LocalTrainer& trainer)
                                     -> absl::StatusOr<cohort::v1::Report> {
    const int64_t id = assigned[reporters[k]].id;
    COHORT_ASSIGN_OR_RETURN(std::string bytes, transport_->FetchModel(ref, "sim"));
    COHORT_ASSIGN_OR_RETURN(auto start, client::VerifyModelBytes(ref, bytes));
    data::ImageDataset local = population_->DataOf(id);
    COHORT_ASSIGN_OR_RETURN(
        client::LocalUpdate update,
        trainer.TrainOn(local, arch, start, plan,
                        client::TrainingSeed(
                            MixKey(config_.seed(), kTrainStream,
                                   static_cast<uint64_t>(id)), round_id)));
    return client::MakeReport(round_id, std::move(update));
  });

  // Every assigned device downloads the model unless it drops at check-in,
  // including those still training when the round closes.
  int64_t bytes_down = 0;
  for (const auto& p : assigned) {
    if (p.timeline.drop != DropPhase::kAfterCheckIn) bytes_down += model_bytes;
  }
  // Play the events in order: drops close their stream, reporters upload.
  int64_t bytes_up = 0, dropped = 0, done = 0;
  auto report_progress = [&] {
    if (callbacks.on_progress) {
      callbacks.on_progress(committed_ + 1, ++done,
                            static_cast<int64_t>(assigned.size()));
    }
  };
  secure_.clear();
  size_t next_reporter = 0;
  absl::Status failure;
  for (size_t i = 0; i < assigned.size(); ++i) {
    // The round ends at its goal or its deadline; later events never happen.
    if (engine_->phase() != server::RoundPhase::kReporting) break;
    Participant& p = assigned[i];
    if (p.timeline.event_s > deadline_s) break;
    const bool reports = next_reporter < reporters.size() &&
                         reporters[next_reporter] == i;
    if (p.timeline.drop == DropPhase::kNone && !reports) continue;
    clock_.AdvanceTo(t0 + absl::Seconds(p.timeline.event_s));
    if (p.timeline.drop != DropPhase::kNone) ++dropped;
    if (reports) {
      auto report = pool_->Take(next_reporter++);
      if (!report.ok()) {
        if (failure.ok()) failure = report.status();
        p.session->Close();
        continue;
      }
      if (options_.secagg.enabled) {
        // Keeps its session open: the update waits for the secure cohort.
        COHORT_RETURN_IF_ERROR(
            SendReady(p.id, p.session.get(), round_id, *std::move(report)));
        report_progress();
        continue;
      }
      bytes_up += static_cast<int64_t>(report->ByteSizeLong());
      auto ack = p.session->Report(*report);
      if (!ack.ok()) LOG(WARNING) << DeviceName(p.id) << ": " << ack.status();
    }
    p.session->Close();
    report_progress();
  }
  while (next_reporter < reporters.size()) pool_->Take(next_reporter++).IgnoreError();
  COHORT_RETURN_IF_ERROR(failure);
  // Close everyone else; a round short of its goal runs to its deadline.
  std::set<int64_t> waiting;
  for (const auto& c : secure_) waiting.insert(c.id);
  for (auto& p : assigned) {
    if (!waiting.contains(p.id)) p.session->Close();
  }
  if (engine_->phase() == server::RoundPhase::kReporting) {
    clock_.AdvanceTo(t0 + absl::Seconds(deadline_s));
  }
  last_summary_.reset();
  engine_->RunOnce();
  if (engine_->phase() == server::RoundPhase::kAggregating) {
    COHORT_RETURN_IF_ERROR(RunSecureAggregation(engine_.get(), &clock_,
                                                options_.secagg.phase_timeout,
                                                secure_, &bytes_up));
    for (const auto& c : secure_) dropped += c.drop != SecAggDrop::kNone;
  }
  for (auto& p : assigned) p.session->Close();
  secure_.clear();
  if (!last_summary_.has_value()) return false;

  ++committed_;
  SimRoundRow row;
  row.round = committed_;
  row.sim_seconds = clock_.Seconds();
  row.wall_seconds = WallSeconds() - wall_start_;
  row.participants = last_summary_->participants;
  row.dropped = dropped;
  row.bytes_up = bytes_up;
  row.bytes_down = bytes_down;
  row.train_loss = last_summary_->train_loss;
  auto acc = last_summary_->metrics.find("test_accuracy");
  row.test_accuracy = acc == last_summary_->metrics.end() ? 0 : acc->second;
  VLOG(1) << "round " << committed_ << " took "
          << absl::ToDoubleSeconds(clock_.Now() - round_start) << " simulated s";
  if (callbacks.on_round) callbacks.on_round(row);
  return true;
}

}  // namespace cohort::sim
