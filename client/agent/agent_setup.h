#ifndef COHORT_CLIENT_AGENT_AGENT_SETUP_H_
#define COHORT_CLIENT_AGENT_AGENT_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "client/agent/agent_options.h"
#include "client/agent/release_guard.h"
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
