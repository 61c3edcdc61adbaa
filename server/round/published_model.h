#ifndef COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_
#define COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::server {

// A committed model version: the fp32 master weights the coordinator keeps
// and updates, and the artifact devices download (streamed by FetchModel):
// its serialized bytes and their SHA-256. The artifact is the int8
// quantization of the master (common/model/quantize.h) unless the task
// publishes fp32. Immutable once built; shared read-only between the engine
// and RPC reactors.
struct PublishedModel {
  int64_t version = 0;
  int64_t round_id = 0;
  std::string architecture;
  cohort::v1::Weights weights;  // fp32 master
  bool int8 = false;            // the artifact is quantized
  std::string bytes;            // serialized artifact
  std::string sha256;           // of `bytes`
  std::map<std::string, double> metrics;
  // When the coordinator signs releases: the release devices get this
  // version under, and its signed manifest. 0 and empty otherwise.
  int64_t release = 0;
  cohort::v1::SignedManifest manifest;
  // Its release is a pin (new versions are held until the next release).
  bool pinned = false;
  // Stored but kept from release by the gate (RoundCommitter), and why.
  bool held = false;
  std::string held_reason;
};

// The manifest content of `model` as the child of version `parent`: the
// artifacts a device can download ("int8" when the artifact is quantized,
// and always "fp32", the master weights), the architecture and its SHA-256,
// the round and the metrics. The release number, key id and times are the
// registry's to fill in.
cohort::v1::ModelManifest ManifestContent(const PublishedModel& model,
                                          int64_t parent);

// The artifact kind of a release's ONNX export (fp32, opset 13).
inline constexpr char kOnnxExportKind[] = "onnx";

// Lists each of `exports` (kind -> bytes, TaskModel::Exports) in `manifest`
// as an ArtifactDigest: SHA-256 and size, so the release signs them.
void AddExportDigests(const std::map<std::string, std::string>& exports,
                      cohort::v1::ModelManifest* manifest);

// Builds a PublishedModel from master `weights`: quantizes them when `int8`,
// then serializes and hashes the artifact. INVALID_ARGUMENT if the weights
// cannot be quantized (malformed or non-finite).
absl::StatusOr<std::shared_ptr<const PublishedModel>> Publish(
    int64_t version, int64_t round_id, const std::string& architecture,
    cohort::v1::Weights weights, std::map<std::string, double> metrics,
    bool int8);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_
