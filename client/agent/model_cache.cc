#include "client/agent/model_cache.h"

#include "absl/strings/str_cat.h"
#include "client/train/client_task.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"
#include "common/model/quantize.h"
#include "glog/logging.h"

namespace cohort::client {

ModelCache::ModelCache(std::string state_dir)
    : dir_(state_dir.empty() ? "cohort-agent-state" : std::move(state_dir)) {}

std::string ModelCache::ModelPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/model.pb");
}

std::string ModelCache::ArchitecturePath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/model.arch");
}

std::string ModelCache::ReleasePath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/release");
}

std::string ModelCache::ManifestPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/manifest.pb");
}

std::string ModelCache::RootPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/root.pb");
}

bool ModelCache::Holds(const cohort::v1::ModelRef& ref) const {
  return version_ != 0 && sha256_ == ref.sha256() &&
         architecture_ == ref.architecture();
}

absl::StatusOr<cohort::v1::Weights> ModelCache::Get(
    const cohort::v1::ModelRef& ref, const Fetch& fetch) {
  if (Holds(ref)) return weights_;
  auto on_disk = base::ReadFile(ModelPath(dir_), kMaxModelBytes);
  auto disk_arch = base::ReadFile(ArchitecturePath(dir_), 4096);
  const std::string disk_sha256 =
      on_disk.ok() ? crypto::Sha256Hex(*on_disk) : std::string();
  const bool disk_hit = on_disk.ok() && disk_arch.ok() &&
                        *disk_arch == ref.architecture() &&
                        disk_sha256 == ref.sha256();
  std::string bytes;
  if (disk_hit) {
    bytes = std::move(*on_disk);
  } else {
    // The file still holds the model in memory (same hash): a delta base.
    ModelBase held;
    if (version_ != 0 && on_disk.ok() && disk_sha256 == sha256_) {
      held.version = version_;
      held.bytes = *on_disk;
    }
    COHORT_ASSIGN_OR_RETURN(bytes, fetch(held));
  }
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights weights,
                          VerifyModelBytes(ref, bytes));
  if (!disk_hit) COHORT_RETURN_IF_ERROR(Store(ref, bytes));
  version_ = ref.version();
  sha256_ = ref.sha256();
  architecture_ = ref.architecture();
  weights_ = weights;
  cohort::v1::Weights raw;
  int8_ = raw.ParseFromString(bytes) && model::IsQuantized(raw);
  return weights;
}

absl::Status ModelCache::Store(const cohort::v1::ModelRef& ref,
                               const std::string& bytes) {
  COHORT_RETURN_IF_ERROR(base::MakeDirs(dir_));
  // The architecture goes last: a crash between the two writes leaves a
  // model.arch that no longer matches, and the next Get fetches again.
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(ModelPath(dir_), bytes));
  return base::WriteFileAtomically(ArchitecturePath(dir_), ref.architecture());
}

}  // namespace cohort::client
