#ifndef COHORT_CLIENT_AGENT_AGENT_SETUP_H_
#define COHORT_CLIENT_AGENT_AGENT_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "client/train/local_trainer.h"
#include "common/data/dataset.h"
#include "cohort/v1/config.pb.h"
#include "client/transport/transport.h"

namespace cohort::client {

// Fills documented defaults into `config` and checks it. INVALID_ARGUMENT
// naming the field for a missing CA certificate, a shard outside
// [0, num_shards), alpha <= 0, and the like.
absl::Status ApplyAgentDefaults(cohort::v1::AgentConfig* config);

// Loads the device's shard of the data set (the rest is discarded) and sets
// the training thread count. NOT_FOUND if the data is missing.
absl::StatusOr<std::unique_ptr<LocalTrainer>> MakeLocalTrainer(
    const cohort::v1::AgentConfig& config);

// The device's shard alone (what MakeLocalTrainer trains on), with the
// thread count applied.
absl::StatusOr<data::ImageDataset> LoadDeviceData(
    const cohort::v1::AgentConfig& config);

// A gRPC transport over TLS: the configured CA is the only trust root, and
// the device's certificate is presented when configured (mTLS).
absl::StatusOr<std::unique_ptr<CoordinatorTransport>> MakeTransport(
    const cohort::v1::AgentConfig& config);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_SETUP_H_
