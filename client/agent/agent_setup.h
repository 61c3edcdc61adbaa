#ifndef COHORT_CLIENT_AGENT_AGENT_SETUP_H_
#define COHORT_CLIENT_AGENT_AGENT_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "client/train/local_trainer.h"
#include "common/data/dataset.h"
#include "common/data/partition.h"
#include "cohort/v1/config.pb.h"
#include "client/transport/transport.h"

namespace cohort::client {

// Fills documented defaults into `config` and checks it. INVALID_ARGUMENT
// naming the field for a missing CA certificate, a shard outside
// [0, num_shards), alpha <= 0, partition.min_examples < 0, and the like.
absl::Status ApplyAgentDefaults(cohort::v1::AgentConfig* config);

// The split a resolved PartitionConfig asks for: the spec every device (and
// the simulator's SHARDS layout, see data::ShardPartitionOf) hands to
// data::PartitionExamples / data::ShardOf.
data::PartitionSpec ToPartitionSpec(const cohort::v1::PartitionConfig& config);

// Loads the device's shard of the data set (the rest is discarded) and sets
// the training thread count. The errors of LoadDeviceData.
absl::StatusOr<std::unique_ptr<LocalTrainer>> MakeLocalTrainer(
    const cohort::v1::AgentConfig& config);

// The device's shard alone (what MakeLocalTrainer trains on), with the
// thread count applied: data::ShardOf(ToPartitionSpec(partition)) of the
// configured data. NOT_FOUND if the data is missing; INVALID_ARGUMENT
// starting "partition.min_examples: shard <i> of <n> would hold <count>"
// and naming the fields to change when the split cannot give every shard
// min_examples examples (e.g. Dirichlet alpha 0.01 over 100 shards).
absl::StatusOr<data::ImageDataset> LoadDeviceData(
    const cohort::v1::AgentConfig& config);

// A gRPC transport over TLS: the configured CA is the only trust root, and
// the device's certificate is presented when configured (mTLS).
absl::StatusOr<std::unique_ptr<CoordinatorTransport>> MakeTransport(
    const cohort::v1::AgentConfig& config);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_SETUP_H_
