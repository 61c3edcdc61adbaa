#include "client/agent/agent_setup.h"

#include "absl/strings/str_cat.h"
#include "client/transport/grpc_transport.h"
#include "common/base/field_error.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/data/partition.h"
#include "common/ml/model.h"

namespace cohort::client {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return base::FieldError(field, why);
}

absl::Status ApplyPartitionDefaults(cohort::v1::PartitionConfig* p) {
  if (p->num_shards() == 0) p->set_num_shards(1);
  if (p->alpha() == 0) p->set_alpha(0.5);
  if (p->seed() == 0) p->set_seed(1);
  if (p->min_examples() == 0) p->set_min_examples(data::kDefaultMinExamples);
  if (p->num_shards() < 1) return Bad("partition.num_shards", "must be >= 1");
  if (p->shard_index() < 0 || p->shard_index() >= p->num_shards()) {
    return Bad("partition.shard_index", "must be in [0, num_shards)");
  }
  if (!(p->alpha() > 0)) return Bad("partition.alpha", "must be > 0");
  if (p->min_examples() < 1) {
    return Bad("partition.min_examples", "must be >= 1 (0 means 10)");
  }
  return absl::OkStatus();
}

}  // namespace

data::PartitionSpec ToPartitionSpec(const cohort::v1::PartitionConfig& p) {
  data::PartitionSpec spec;
  spec.scheme = p.scheme() == cohort::v1::PartitionConfig::DIRICHLET
                    ? data::PartitionScheme::kDirichlet
                    : data::PartitionScheme::kIid;
  spec.num_shards = p.num_shards();
  spec.alpha = p.alpha();
  spec.seed = p.seed();
  spec.min_examples = p.min_examples();
  return spec;
}

absl::Status ApplyAgentDefaults(cohort::v1::AgentConfig* c) {
  if (c->server_address().empty()) c->set_server_address("127.0.0.1:50051");
  if (c->server_name_override().empty()) c->set_server_name_override("localhost");
  if (c->population().empty()) c->set_population("fashion_mnist");
  if (c->state_dir().empty()) c->set_state_dir("cohort-agent-state");
  if (c->num_threads() == 0) c->set_num_threads(1);
  if (c->device_id().empty()) return Bad("device_id", "is required");
  if (c->tls().ca_cert_path().empty()) {
    return Bad("tls.ca_cert_path", "is required: the agent only speaks TLS");
  }
  if (c->tls().cert_path().empty() != c->tls().key_path().empty()) {
    return Bad("tls.cert_path", "cert_path and key_path go together");
  }
  if (c->num_threads() < 0 || c->num_threads() > 256) {
    return Bad("num_threads", "must be in [1, 256]");
  }
  COHORT_RETURN_IF_ERROR(ApplyPartitionDefaults(c->mutable_partition()));
  if (c->data().idx_dir().empty()) {
    c->mutable_data()->set_idx_dir(data::kDefaultFashionMnistDir);
  }
  if (c->data().max_examples() < 0) {
    return Bad("data.max_examples", "must be >= 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LocalTrainer>> MakeLocalTrainer(
    const cohort::v1::AgentConfig& c) {
  COHORT_ASSIGN_OR_RETURN(data::ImageDataset mine, LoadDeviceData(c));
  return LocalTrainer::Create(std::move(mine));
}

absl::StatusOr<data::ImageDataset> LoadDeviceData(
    const cohort::v1::AgentConfig& c) {
  ml::SetNumThreads(c.num_threads());
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset all,
      data::LoadFashionMnist(c.data().idx_dir(), c.data().use_test_split(),
                             c.data().max_examples()));
  // Every device computes the whole split and keeps its own shard; the
  // simulator's SHARDS layout calls the same function.
  COHORT_ASSIGN_OR_RETURN(
      const std::vector<int64_t> mine,
      data::ShardOf(ToPartitionSpec(c.partition()), all.labels,
                    all.num_classes, c.partition().shard_index()));
  return data::Subset(all, mine);
}

absl::StatusOr<std::unique_ptr<CoordinatorTransport>> MakeTransport(
    const cohort::v1::AgentConfig& c) {
  if (c.keepalive_ms() < 0) {
    return absl::InvalidArgumentError("keepalive_ms: must not be negative");
  }
  const absl::Duration keepalive = c.keepalive_ms() > 0
                                       ? absl::Milliseconds(c.keepalive_ms())
                                       : GrpcTransport::kDefaultKeepalive;
  COHORT_ASSIGN_OR_RETURN(
      auto transport, GrpcTransport::Connect(c.server_address(), c.tls(),
                                             c.server_name_override(), keepalive));
  return std::unique_ptr<CoordinatorTransport>(std::move(transport));
}

}  // namespace cohort::client
