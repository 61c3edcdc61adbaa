#ifndef COHORT_SIM_SIMULATOR_H_
#define COHORT_SIM_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/transport/transport.h"
#include "cohort/v1/config.pb.h"
#include "common/base/random.h"
#include "common/data/client_population.h"
#include "grpcpp/server.h"
#include "server/api/coordinator_service.h"
#include "server/round/ml_task_model.h"
#include "server/round/round_engine.h"
#include "server/store/store.h"
#include "common/model/trust.h"
#include "server/registry/release_registry.h"
#include "server/registry/release_signer.h"
#include "sim/client_data.h"
#include "sim/client_work.h"
#include "sim/device_model.h"
#include "sim/sim_options.h"
#include "common/crypto/secure_random.h"
#include "sim/output/sim_metrics.h"
#include "sim/personalization.h"
#include "sim/secure_rounds.h"
#include "sim/ranked_training.h"
#include "sim/virtual_clock.h"

namespace cohort::sim {

enum class TransportKind { kInProcess, kGrpc };

struct RoundAttempt;     // simulator.cc
struct BufferedFlights;  // simulator_buffered.cc

// The device id virtual client `id` checks in under.
std::string DeviceName(int64_t id);

// What the simulator saw of one round (or buffer) besides the engine's
// summary: its traffic, the device model's drops, and the clients whose
// updates it took (whose local test accuracy the row reports).
struct RoundTally {
  int64_t bytes_up = 0;
  int64_t bytes_down = 0;
  // Device-model drops played before the round closed (their streams end).
  int64_t disconnects = 0;
  // Devices still working when the report deadline closed the round.
  int64_t timeouts = 0;
  std::vector<int64_t> reporters;
};

// Drives the production round engine with many virtual clients. Clients
// check in, download, train (LocalTrainer) and report through a
// CoordinatorTransport, in-process or gRPC over loopback TLS, exactly as
// agents do. Time is virtual: device speed, link speed, dropouts and
// deadlines play out on a VirtualClock without sleeping, and so do a secure
// round's SecAgg+ phases (RunSecureAggregation).
//
// Reproducible: with the same config, results are bit-identical whatever the
// thread count, transport or number of MPI ranks, because every random draw is keyed by
// (seed, round, client id) and reports reach the engine in simulated-time
// order (ties broken by client id). Not thread-safe: one Run() at a time.
class Simulator {
 public:
  struct Callbacks {
    std::function<void(const SimRoundRow&)> on_round;
    // Called as clients of the current round finish: (round, done, total).
    std::function<void(int64_t, int64_t, int64_t)> on_progress;
  };

  // `config` must come from ResolveSimConfig. Loads the data, opens a
  // directory store in `state_dir` and starts the engine (and, for kGrpc, a
  // TLS server on an ephemeral loopback port). With `ranks` (rank 0 of a
  // run of several processes, borrowed), the other ranks train their share
  // of each round's clients (RankedTraining; they run ServeTrainingRank)
  // and Run tells them when the run is over.
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(
      const cohort::v1::SimConfig& config, TransportKind transport,
      const std::string& state_dir, RankChannel* ranks = nullptr);
  ~Simulator();

  // Runs config.rounds() committed rounds. FAILED_PRECONDITION if the
  // population cannot fill rounds: too few reachable clients (said so), or
  // 20 attempts in a row abandoned, naming the engine's reasons for the last
  // few (e.g. the SecAgg+ phase, threshold and survivors, or reports refused
  // as malformed); transport errors otherwise.
  absl::Status Run(const Callbacks& callbacks);

  std::shared_ptr<const server::PublishedModel> current_model() const {
    return engine_->current_model();
  }
  // Every client that trained in the run, evaluated on its local test split
  // with the current global model and with its personalized model (one row
  // each, in id order). Empty without local test splits
  // (SimConfig.local_test_fraction 0).
  absl::StatusOr<std::vector<ClientAccuracy>> EvaluateClients();
  // The task's architecture: the zoo name, or an imported module's chain.
  const std::string& architecture() const { return task_model_->architecture(); }

 private:
  Simulator() = default;
  // Create's steps: the data, population, local tests and device model
  // (returns the holdout, for the task); the transport.
  absl::StatusOr<data::ImageDataset> SetUpClients(const SimOptions& o,
                                                  RankChannel* ranks);
  absl::Status SetUpTransport(TransportKind transport);
  // The release's bytes, as clients download them: held by a buffered run
  // for versions the coordinator may no longer serve, else fetched.
  // Thread-safe.
  absl::StatusOr<std::string> Download(const cohort::v1::ModelRef& ref);
  absl::Status StartGrpc();
  int64_t max_message_bytes() const;
  // A trained client's report, taken when its masked input is due.
  using ReportSource = std::function<absl::StatusOr<cohort::v1::Report>()>;
  // Secure rounds: wraps a trained client as a SecureClient and sends ready.
  // The seed of client `id`'s distributed DP noise in `round_id`: keyed by
  // the run seed, so a run repeats.
  std::array<uint8_t, 32> NoiseSeedOf(int64_t id, int64_t round_id) const;
  // `take` gives its update when the driver asks for it (TakeReport in a
  // synchronous round).
  absl::Status SendReady(int64_t id, client::ParticipationSession* session,
                         int64_t round_id, ReportSource take);
  // Reporter `reporter`'s report, after taking (and dropping) those of the
  // reporters before it; reports are taken in reporter order only (INTERNAL
  // otherwise). A training error is also kept in training_failure_, which
  // fails the round attempt.
  absl::StatusOr<cohort::v1::Report> TakeReport(size_t reporter);
  // Takes the reports of every reporter before `end`.
  void DrainReports(size_t end);
  // One round attempt; returns true when a round was committed. Its steps,
  // in order:
  absl::StatusOr<bool> RunRound(const Callbacks& callbacks);
  // Reachable clients check in until the engine stops assigning. OK(false)
  // when the attempt has no round to play.
  absl::StatusOr<bool> Select(RoundAttempt& a, int64_t attempt);
  absl::Status CheckInSome(RoundAttempt& a, base::Random& pick,
                           std::set<int64_t>& tried);
  // The assignment's release, checked as a pinned agent checks it
  // (model::VerifyAssignedModel against the run's root, no lower than the
  // last release). Every selected device gets the same assignment, so one
  // check stands for all. INTERNAL if it does not verify: a coordinator bug.
  absl::Status CheckRelease(const cohort::v1::TaskAssignment& assignment);
  // Virtual client `id` checks in on `session`, as an agent does.
  absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
      int64_t id, client::ParticipationSession& session);
  // Client `id`'s timeline for an assignment of `round_id` whose release is
  // `model_bytes` long (down) and whose update is as long (up).
  ClientTimeline PlanClient(int64_t id, int64_t round_id,
                            int64_t model_bytes) const;
  // Each client's round on the virtual clock, in event order; the reporters.
  void PlanTimelines(RoundAttempt& a);
  // Starts training `ids`, in order, for `assignment` (on every rank of the
  // run).
  absl::Status StartTraining(const cohort::v1::TaskAssignment& assignment,
                             std::vector<int64_t> ids);
  // Plays the events in order: drops close their stream, reporters upload
  // (or send ready). Stops at the goal or the deadline.
  absl::Status PlayEvents(RoundAttempt& a, const Callbacks& callbacks);
  // Plain rounds: reporter `i` uploads its report.
  void Upload(RoundAttempt& a, size_t i, cohort::v1::Report report);
  // Lets the engine conclude the open round and, when it aggregates,
  // plays its SecAgg+ to the end (RunSecureAggregation; the traffic goes to
  // `tally`). Returns whether it aggregated.
  absl::StatusOr<bool> Conclude(RoundTally& tally);
  // Closes the other streams, lets the engine conclude, runs SecAgg+.
  absl::Status CloseRound(RoundAttempt& a);
  // The round's row, with its reporters' local test accuracy; errors from
  // evaluating them.
  absl::Status RecordRound(const RoundTally& tally, const Callbacks& callbacks);

  // Buffered tasks (RoundOptions.buffered; simulator_buffered.cc): clients
  // check in whenever the engine has a free slot, train on the version they
  // were given, and report on the virtual clock in event order, each buffer
  // a row. Fails like Run when no client can be assigned or too many
  // buffers in a row are abandoned.
  absl::Status RunBuffered(const Callbacks& callbacks);
  // Reachable clients not yet used in the open buffer check in until the
  // engine has no free slot; the new ones are planned on the device model.
  absl::Status Refill(BufferedFlights& f);
  // Trains every client of `round_id` that will report and has no update
  // yet, as one batch from the version that round assigned.
  absl::Status TrainRound(BufferedFlights& f, int64_t round_id);
  // Keeps the bytes of `ref`'s version for Download; forgets those no
  // assignment in flight holds.
  absl::Status Hold(const cohort::v1::ModelRef& ref);
  void ReleaseUnheld(const BufferedFlights& f);
  // The earliest client event: a drop or a late device leaves, a reporter
  // uploads (or sends ready); then the engine commits or aggregates.
  absl::Status LandNext(BufferedFlights& f, const Callbacks& callbacks);
  // The engine ended a buffer: runs its SecAgg+, records a committed one.
  absl::Status EndBuffer(BufferedFlights& f, const Callbacks& callbacks);
  // The engine's observer: keeps a committed round's summary, counts an
  // abandoned one and keeps its reason.
  void OnRoundEnd(const server::RoundSummary& summary);
  // The error after too many failed attempts in a row.
  absl::Status GiveUp() const;

  cohort::v1::SimConfig config_;
  // The clients' data, local test splits and the personal layers they keep.
  std::unique_ptr<ClientData> clients_;
  // Evaluates local test splits on the simulator's thread.
  std::unique_ptr<client::LocalTrainer> evaluator_;
  std::unique_ptr<DeviceModel> devices_;
  VirtualClock clock_;
  std::unique_ptr<server::Store> store_;
  std::unique_ptr<server::MlTaskModel> task_model_;
  // Signed releases with a root and release key made for this run alone.
  std::unique_ptr<server::ReleaseSigner> signer_;
  std::optional<model::TrustedRoot> root_;
  int64_t highest_release_ = 0;
  std::unique_ptr<server::ReleaseRegistry> registry_;
  std::unique_ptr<server::RoundEngine> engine_;
  std::unique_ptr<server::CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<client::CoordinatorTransport> transport_;
  std::unique_ptr<ClientWork> work_;
  std::unique_ptr<RankedTraining> training_;
  // Buffered runs: the bytes of each version clients in flight hold.
  absl::Mutex downloads_mu_;
  std::map<int64_t, std::string> downloads_ ABSL_GUARDED_BY(downloads_mu_);
  crypto::OpenSslRandom random_;
  // Devices of the current secure round waiting for, or in, SecAgg.
  std::vector<SecureClient> secure_;
  // Reports taken from training_ this round attempt, and the first
  // training error among them.
  size_t reports_taken_ = 0;
  absl::Status training_failure_;

  server::RoundOptions options_;
  PoisonOptions poison_;
  std::optional<server::RoundSummary> last_summary_;
  // The latest abandon reasons ("round N: ..."), oldest first.
  std::deque<std::string> recent_abandons_;
  int64_t abandoned_since_row_ = 0;
  int64_t attempts_ = 0;
  int64_t committed_ = 0;
  double wall_start_ = 0;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_SIMULATOR_H_
