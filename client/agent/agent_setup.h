#ifndef COHORT_CLIENT_AGENT_AGENT_SETUP_H_
#define COHORT_CLIENT_AGENT_AGENT_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "client/agent/agent_options.h"
#include "client/agent/device_identity.h"
#include "client/agent/release_guard.h"
#include "client/agent/serving_model.h"
#include "client/examples/example_source.h"
#include "client/examples/example_store.h"
#include "client/train/local_trainer.h"
#include "client/transport/transport.h"
#include "common/data/dataset.h"

namespace cohort::client {

// Loads the device's shard of the data set (the rest is discarded) and sets
// the training thread count. The errors of LoadDeviceData.
absl::StatusOr<std::unique_ptr<LocalTrainer>> MakeLocalTrainer(
    const AgentOptions& options);

// The device's shard alone (what MakeLocalTrainer trains on), with the
// thread count applied: data::ShardOf(options.partition, ...,
// options.shard_index) of the configured data. NOT_FOUND if the data is
// missing; INVALID_ARGUMENT starting "partition.min_examples: shard <i> of
// <n> would hold <count>" and naming the fields to change when the split
// cannot give every shard min_examples examples (e.g. Dirichlet alpha 0.01
// over 100 shards).
absl::StatusOr<data::ImageDataset> LoadDeviceData(const AgentOptions& options);

// Where the device's training examples come from (ExampleSource): the
// example store when example_store.path is set, else the Fashion-MNIST
// shard. `store` is null for the shard.
struct DeviceExamples {
  std::unique_ptr<ExampleStore> store;
  std::unique_ptr<ExampleSource> source;
};

// Opens the device's examples. The store gets example_store's retention
// policy (applied once at open). A damaged store file (DATA_LOSS) is moved
// aside to "<path>.corrupt-<unix seconds>", named in the log, and a new,
// empty store is started: applications add examples again, and the model
// and release counter are untouched. FAILED_PRECONDITION starting
// "example_store.path: " when the store cannot be opened or created
// (missing folder, permissions, a file that is not an example store).
// The shard is loaded here, with LoadDeviceData's errors. Both set the
// training thread count.
absl::StatusOr<DeviceExamples> OpenDeviceExamples(const AgentOptions& options);

// Examples ever added to the device's source (ExampleSource::Added), for
// `cohort-agent status` beside a running agent: 0 for a store file or
// population that does not exist yet (nothing is created); the shard's
// size. The errors of opening the store or loading the shard.
absl::StatusOr<int64_t> ExamplesAdded(const AgentOptions& options);

// Serves `weights` (a model the agent verified) on `served` from now on,
// unless the same weights (info.sha256) already are; `calibration` gives
// the int8 kernels' calibration examples. A model that cannot be loaded is
// logged and the one served before is kept.
void ServeModel(ServedModel& served, const cohort::v1::Weights& weights,
                ServedModelInfo info, ExampleSource& calibration,
                bool int8_kernels);

// With enrollment on, the device's identity, enrolled first when it holds
// none: the token from enrollment.token_path and a CSR go to the
// enrollment port over server-authenticated TLS (tls.ca_cert_path,
// server_name_override). Null with enrollment off. FAILED_PRECONDITION
// starting "enrollment.token_path: " when the device holds no certificate
// and no token; UNAUTHENTICATED when the coordinator refuses the token
// (unknown, used, expired) or answers with an unusable certificate;
// PERMISSION_DENIED when the token is another device's; UNAVAILABLE when
// the enrollment port cannot be reached or the device clock is behind the
// stored certificate's validity.
absl::StatusOr<std::unique_ptr<IdentityKeeper>> EnsureEnrolled(
    const AgentOptions& options);

// A gRPC transport over TLS: the configured CA is the only trust root, and
// the device's certificate is presented when configured (mTLS).
absl::StatusOr<std::unique_ptr<CoordinatorTransport>> MakeTransport(
    const AgentOptions& options);

// Makes the state directory ready before anything else touches it: created
// and writable (FAILED_PRECONDITION naming state_dir otherwise, a setup
// mistake), and cleared of the temp files a killed write left behind.
absl::Status PrepareStateDir(const AgentOptions& options);

// The device's release policy when trusted_root_path is set, else null.
// FAILED_PRECONDITION starting "trust.root_path: " when the pinned root is
// missing or does not verify. Unusable state files are moved aside
// (ReleaseGuard::Open).
absl::StatusOr<std::unique_ptr<ReleaseGuard>> MakeReleaseGuard(
    const AgentOptions& options);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_SETUP_H_
