#include "client/agent/agent_setup.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/transport/grpc_transport.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/grpc_status.h"
#include "common/base/status_macros.h"
#include "common/crypto/x509.h"
#include "common/model/quantize.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "grpcpp/grpcpp.h"
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

namespace {

// The store at options.example_store, opened or created, with a damaged
// file moved aside once.
absl::StatusOr<std::unique_ptr<ExampleStore>> OpenStore(
    const ExampleStoreOptions& o) {
  auto store = ExampleStore::Open(o.path, base::RealClock::Get());
  if (absl::IsDataLoss(store.status())) {
    const std::string aside = absl::StrCat(
        o.path, ".corrupt-", absl::ToUnixSeconds(absl::Now()));
    LOG(ERROR) << store.status() << "; moving it aside to " << aside
               << " and starting an empty store";
    // With its WAL and shared-memory index: SQLite would replay a stale WAL
    // into the new file.
    for (const char* suffix : {"-wal", "-shm", ""}) {
      const std::string from = o.path + suffix;
      if (std::rename(from.c_str(), (aside + suffix).c_str()) != 0 &&
          errno != ENOENT) {
        return absl::FailedPreconditionError(absl::StrCat(
            "example_store.path: ", from, " is damaged and cannot be moved "
            "aside: ", std::strerror(errno)));
      }
    }
    store = ExampleStore::Open(o.path, base::RealClock::Get());
  }
  if (!store.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("example_store.path: ", store.status().message()));
  }
  COHORT_RETURN_IF_ERROR((*store)->SetRetention(o.retention));
  absl::StatusOr<int64_t> trimmed = (*store)->ApplyRetention();
  if (!trimmed.ok()) {
    LOG(WARNING) << "retention at start: " << trimmed.status();
  } else if (*trimmed > 0) {
    LOG(INFO) << "retention removed " << *trimmed << " examples at start";
  }
  return store;
}

}  // namespace

absl::StatusOr<DeviceExamples> OpenDeviceExamples(const AgentOptions& options) {
  ml::SetNumThreads(options.num_threads);
  DeviceExamples examples;
  const ExampleStoreOptions& o = options.example_store;
  if (o.path.empty()) {
    examples.source = std::make_unique<FashionMnistShardSource>(
        [options] { return LoadDeviceData(options); });
    // Loaded now, so missing data stops the agent at start (and the shard
    // is kept for every round).
    COHORT_RETURN_IF_ERROR(examples.source->Examples().status());
    return examples;
  }
  COHORT_ASSIGN_OR_RETURN(examples.store, OpenStore(o));
  examples.source = std::make_unique<StoreSource>(
      examples.store.get(), o.population, o.max_examples);
  return examples;
}

absl::StatusOr<int64_t> ExamplesAdded(const AgentOptions& options) {
  const ExampleStoreOptions& o = options.example_store;
  if (o.path.empty()) {
    COHORT_ASSIGN_OR_RETURN(const data::ImageDataset shard,
                            LoadDeviceData(options));
    return shard.num_examples;
  }
  std::error_code ec;
  if (!std::filesystem::exists(o.path, ec)) return 0;
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ExampleStore> store,
                          ExampleStore::Open(o.path, base::RealClock::Get()));
  absl::StatusOr<ExampleStats> stats = store->Stats(o.population);
  if (absl::IsNotFound(stats.status())) return 0;
  if (!stats.ok()) return stats.status();
  return stats->added;
}

void ServeModel(ServedModel& served, const cohort::v1::Weights& weights,
                ServedModelInfo info, ExampleSource& calibration,
                bool int8_kernels) {
  const std::shared_ptr<ServingModel> current = served.Current();
  if (current != nullptr && current->info().sha256 == info.sha256) return;
  // The examples only calibrate int8 kernels: not read for fp32.
  const bool int8 = int8_kernels || model::IsQuantized(weights);
  data::ImageDataset examples;
  if (absl::StatusOr<data::ImageDataset> held =
          int8 ? calibration.Examples() : data::ImageDataset();
      held.ok()) {
    examples = *std::move(held);
  }
  const int64_t version = info.version;
  auto model =
      ServingModel::Create(weights, std::move(info), int8, examples);
  if (!model.ok()) {
    LOG(ERROR) << "cannot serve version " << version << ": " << model.status()
               << "; still serving the model before it";
    return;
  }
  LOG(INFO) << "serving version " << version << " (release "
            << (*model)->info().release << ", " << (*model)->info().kernels
            << ")";
  served.Swap(*std::move(model));
}

namespace {

// Enroll on the enrollment port, with no client certificate.
absl::StatusOr<cohort::v1::DeviceCertificate> CallEnroll(
    const AgentOptions& o, const std::string& token, const std::string& csr) {
  cohort::v1::TlsConfig server_only;
  server_only.set_ca_cert_path(o.tls.ca_cert_path());
  COHORT_ASSIGN_OR_RETURN(
      auto channel, MakeTlsChannel(o.enrollment.server_address, server_only,
                                   o.server_name_override));
  auto stub = cohort::v1::Enrollment::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  cohort::v1::EnrollRequest request;
  request.set_token(token);
  request.set_csr_pem(csr);
  cohort::v1::DeviceCertificate answer;
  const absl::Status s =
      base::FromGrpcStatus(stub->Enroll(&context, request, &answer));
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("enrollment at ",
                                               o.enrollment.server_address,
                                               ": ", s.message()));
  }
  return answer;
}

}  // namespace

absl::StatusOr<std::unique_ptr<IdentityKeeper>> EnsureEnrolled(
    const AgentOptions& o) {
  if (!o.enrollment.enabled()) return nullptr;
  COHORT_ASSIGN_OR_RETURN(
      const std::string ca_pem,
      base::ReadFile(o.tls.ca_cert_path(), crypto::kMaxPemInputSize));
  const absl::Time now = absl::Now();
  COHORT_ASSIGN_OR_RETURN(std::optional<DeviceIdentity> held,
                          LoadIdentity(o.state_dir, ca_pem, o.device_id, now));
  if (!held.has_value()) {
    absl::StatusOr<std::string> token = base::ReadFile(o.enrollment.token_path, 4096);
    if (!token.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "enrollment.token_path: the device holds no certificate and no "
          "token to enroll with: ", token.status().message()));
    }
    COHORT_ASSIGN_OR_RETURN(
        held, ObtainIdentity(o.state_dir, ca_pem, o.device_id,
                             [&](const std::string& csr) {
                               return CallEnroll(o, *token, csr);
                             },
                             now));
    LOG(INFO) << "enrolled as " << o.device_id << "; certificate valid until "
              << held->not_after << " (the token is used up)";
  }
  return std::make_unique<IdentityKeeper>(*std::move(held), o.state_dir,
                                          ca_pem, o.device_id,
                                          o.enrollment.renew_before);
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
