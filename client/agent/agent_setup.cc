#include "client/agent/agent_setup.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/transport/grpc_transport.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/data/idx_reader.h"
#include "common/data/partition.h"
#include "common/ml/model.h"
#include "glog/logging.h"

namespace cohort::client {

absl::StatusOr<std::unique_ptr<LocalTrainer>> MakeLocalTrainer(
    const AgentOptions& o) {
  COHORT_ASSIGN_OR_RETURN(data::ImageDataset mine, LoadDeviceData(o));
  return LocalTrainer::Create(std::move(mine));
}

absl::StatusOr<data::ImageDataset> LoadDeviceData(const AgentOptions& o) {
  ml::SetNumThreads(o.num_threads);
  COHORT_ASSIGN_OR_RETURN(
      data::ImageDataset all,
      data::LoadFashionMnist(o.idx_dir, o.use_test_split, o.max_examples));
  // Every device computes the whole split and keeps its own shard; the
  // simulator's SHARDS layout calls the same function.
  COHORT_ASSIGN_OR_RETURN(
      const std::vector<int64_t> mine,
      data::ShardOf(o.partition, all.labels, all.num_classes, o.shard_index));
  return data::Subset(all, mine);
}

absl::StatusOr<std::unique_ptr<CoordinatorTransport>> MakeTransport(
    const AgentOptions& o) {
  COHORT_ASSIGN_OR_RETURN(
      auto transport,
      GrpcTransport::Connect(o.server_address, o.tls, o.server_name_override,
                             o.keepalive));
  return std::unique_ptr<CoordinatorTransport>(std::move(transport));
}

absl::Status PrepareStateDir(const AgentOptions& options) {
  COHORT_RETURN_IF_ERROR(
      base::EnsureWritableDir(options.state_dir, "state_dir"));
  if (int removed = base::RemoveStaleTempFiles(options.state_dir); removed > 0) {
    LOG(INFO) << "removed " << removed << " temp files an interrupted write "
              << "left in " << options.state_dir;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ReleaseGuard>> MakeReleaseGuard(
    const AgentOptions& options) {
  if (options.trusted_root_path.empty()) return nullptr;
  auto guard = ReleaseGuard::Open(options.trusted_root_path, options.state_dir);
  if (!guard.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("trust.root_path: ", guard.status().ToString()));
  }
  LOG(INFO) << "pinned root " << options.trusted_root_path
            << "; highest release held " << (*guard)->highest_release();
  return guard;
}

}  // namespace cohort::client
