#include "client/agent/agent_setup.h"

#include "absl/strings/str_cat.h"
#include "client/transport/grpc_transport.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/data/partition.h"
#include "common/ml/model.h"

namespace cohort::client {
namespace {

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace

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
  auto* p = c->mutable_partition();
  if (p->num_shards() == 0) p->set_num_shards(1);
  if (p->alpha() == 0) p->set_alpha(0.5);
  if (p->seed() == 0) p->set_seed(1);
  if (p->num_shards() < 1) return Bad("partition.num_shards", "must be >= 1");
  if (p->shard_index() < 0 || p->shard_index() >= p->num_shards()) {
    return Bad("partition.shard_index", "must be in [0, num_shards)");
  }
  if (!(p->alpha() > 0)) return Bad("partition.alpha", "must be > 0");
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
  const auto& p = c.partition();
  std::vector<std::vector<int64_t>> shards;
  if (p.scheme() == cohort::v1::PartitionConfig::DIRICHLET) {
    COHORT_ASSIGN_OR_RETURN(
        shards, data::PartitionDirichlet(all.labels, all.num_classes,
                                         p.num_shards(), p.alpha(), p.seed()));
  } else {
    COHORT_ASSIGN_OR_RETURN(
        shards, data::PartitionIid(all.num_examples, p.num_shards(), p.seed()));
  }
  return data::Subset(all, shards[p.shard_index()]);
}

absl::StatusOr<std::unique_ptr<CoordinatorTransport>> MakeTransport(
    const cohort::v1::AgentConfig& c) {
  COHORT_ASSIGN_OR_RETURN(
      auto transport, GrpcTransport::Connect(c.server_address(), c.tls(),
                                             c.server_name_override()));
  return std::unique_ptr<CoordinatorTransport>(std::move(transport));
}

}  // namespace cohort::client
