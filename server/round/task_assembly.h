#ifndef COHORT_SERVER_ROUND_TASK_ASSEMBLY_H_
#define COHORT_SERVER_ROUND_TASK_ASSEMBLY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/data/dataset.h"
#include "server/registry/release_registry.h"
#include "server/registry/release_signer.h"
#include "server/round/ml_task_model.h"
#include "server/round/round_engine.h"
#include "server/round/round_options.h"
#include "server/store/store.h"

namespace cohort::server {

// Which model a task trains, as ServerOptions and SimOptions both name it.
struct TaskModelSpec {
  std::string torchscript_path;  // wins over architecture when set
  std::string architecture = "small_cnn";
  uint64_t seed = 1;              // initial weights of a zoo architecture
  int64_t max_message_bytes = 0;  // a device's report must fit (report_size.h)
};

// Signed releases: a null signer leaves versions unsigned.
struct ReleaseSetup {
  const ReleaseSigner* signer = nullptr;  // borrowed; outlives the task
  absl::Duration manifest_ttl = absl::Hours(720);
};

// A coordinator's core: its store, its task's model, its release registry
// (null when unsigned) and a started round engine that uses them (the
// engine borrows them, so they are kept here).
struct AssembledTask {
  std::unique_ptr<Store> store;
  std::unique_ptr<MlTaskModel> task_model;
  std::unique_ptr<ReleaseRegistry> registry;
  std::unique_ptr<RoundEngine> engine;
};

// The one assembly cohort-server and cohort-sim share: creates the task's
// model (evaluated on `holdout`), refuses it when a device's report would
// exceed max_message_bytes (INVALID_ARGUMENT naming the field), builds the
// engine on `store` and starts it (resuming the store's history). Errors
// from the model import and the store as they come.
absl::StatusOr<AssembledTask> AssembleTask(
    std::unique_ptr<Store> store, const TaskModelSpec& model,
    data::ImageDataset holdout, const RoundOptions& round, base::Clock* clock,
    RoundEngine::Observer observer, const ReleaseSetup& release = {});

// AssembleTask without starting the engine: everything is checked and
// loaded but the store's history, which RoundEngine::Start reads. A
// coordinator that stands by for its task's lease starts the engine when it
// leads. The engine must not serve devices before it has started.
absl::StatusOr<AssembledTask> PrepareTask(
    std::unique_ptr<Store> store, const TaskModelSpec& model,
    data::ImageDataset holdout, const RoundOptions& round, base::Clock* clock,
    RoundEngine::Observer observer, const ReleaseSetup& release = {});

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_TASK_ASSEMBLY_H_
