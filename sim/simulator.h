#ifndef COHORT_SIM_SIMULATOR_H_
#define COHORT_SIM_SIMULATOR_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/transport/transport.h"
#include "cohort/v1/config.pb.h"
#include "common/data/client_population.h"
#include "grpcpp/server.h"
#include "server/api/coordinator_service.h"
#include "server/round/ml_task_model.h"
#include "server/round/round_engine.h"
#include "server/store/store.h"
#include "sim/device_model.h"
#include "common/crypto/secure_random.h"
#include "sim/output/sim_metrics.h"
#include "sim/secure_rounds.h"
#include "sim/training_pool.h"
#include "sim/virtual_clock.h"

namespace cohort::sim {

enum class TransportKind { kInProcess, kGrpc };

// Drives the production round engine with many virtual clients. Clients
// check in, download, train (LocalTrainer) and report through a
// CoordinatorTransport, in-process or gRPC over loopback TLS, exactly as
// agents do. Time is virtual: device speed, link speed, dropouts and
// deadlines play out on a VirtualClock without sleeping.
//
// Reproducible: with the same config, results are bit-identical whatever the
// thread count or transport, because every random draw is keyed by
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
  // TLS server on an ephemeral loopback port).
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(
      const cohort::v1::SimConfig& config, TransportKind transport,
      const std::string& state_dir);
  ~Simulator();

  // Runs config.rounds() committed rounds. FAILED_PRECONDITION if the
  // population cannot fill rounds (too few reachable clients, repeated
  // abandonment); transport errors otherwise.
  absl::Status Run(const Callbacks& callbacks);

  std::shared_ptr<const server::PublishedModel> current_model() const {
    return engine_->current_model();
  }

 private:
  Simulator() = default;
  absl::Status StartGrpc();
  // Secure rounds: wraps a trained client as a SecureClient and sends ready.
  absl::Status SendReady(int64_t id, client::ParticipationSession* session,
                         int64_t round_id, cohort::v1::Report report);
  // One round attempt; returns true when a round was committed.
  absl::StatusOr<bool> RunRound(const Callbacks& callbacks);

  cohort::v1::SimConfig config_;
  data::ImageDataset train_;
  std::unique_ptr<data::ClientPopulation> population_;
  std::unique_ptr<DeviceModel> devices_;
  VirtualClock clock_;
  std::unique_ptr<server::Store> store_;
  std::unique_ptr<server::MlTaskModel> task_model_;
  std::unique_ptr<server::RoundEngine> engine_;
  std::unique_ptr<server::CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<client::CoordinatorTransport> transport_;
  std::unique_ptr<TrainingPool> pool_;
  crypto::OpenSslRandom random_;
  // Devices of the current secure round waiting for, or in, SecAgg.
  std::vector<SecureClient> secure_;

  server::RoundOptions options_;
  std::optional<server::RoundSummary> last_summary_;
  int64_t attempts_ = 0;
  int64_t committed_ = 0;
  double wall_start_ = 0;
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_SIMULATOR_H_
