#include "client/agent/held_model.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/agent/last_round.h"
#include "client/agent/model_cache.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"
#include "common/model/trust.h"

namespace cohort::client {
namespace {

// Version and release from the held manifest, which must list `info`'s
// artifact.
absl::Status FromManifest(const cohort::v1::ModelManifest& manifest,
                          const std::string& path, ServedModelInfo& info) {
  bool listed = false;
  for (const cohort::v1::ArtifactDigest& a : manifest.artifacts()) {
    listed = listed || (model::IsDeviceArtifact(a) && a.sha256() == info.sha256);
  }
  if (!listed || manifest.architecture() != info.architecture) {
    return absl::DataLossError(absl::StrCat(
        path, " is not an artifact of the held release ", manifest.release(),
        " (version ", manifest.version(), "); not serving it"));
  }
  info.version = manifest.version();
  info.release = manifest.release();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<HeldModel>> ReadHeldModel(
    const std::string& state_dir, const ReleaseGuard* guard) {
  const std::string path = ModelCache::ModelPath(state_dir);
  absl::StatusOr<std::string> bytes =
      base::ReadFile(path, ModelCache::kMaxModelBytes);
  if (absl::IsNotFound(bytes.status())) return std::nullopt;
  if (!bytes.ok()) return bytes.status();
  COHORT_ASSIGN_OR_RETURN(
      std::string architecture,
      base::ReadFile(ModelCache::ArchitecturePath(state_dir), 4096));
  HeldModel held;
  if (!held.weights.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(path, " is not a Weights message"));
  }
  held.info.architecture = std::move(architecture);
  held.info.sha256 = crypto::Sha256Hex(*bytes);
  if (guard != nullptr) {
    if (!guard->held_manifest().has_value()) {
      return absl::DataLossError(absl::StrCat(
          path, " has no signed release kept beside it; not serving it"));
    }
    COHORT_RETURN_IF_ERROR(
        FromManifest(*guard->held_manifest(), path, held.info));
    return held;
  }
  absl::StatusOr<LastRound> last = ReadLastRound(state_dir);
  if (last.ok() && last->model_sha256 == held.info.sha256) {
    held.info.version = last->model_version;
  }
  return held;
}

}  // namespace cohort::client
