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
};

// Builds a PublishedModel from master `weights`: quantizes them when `int8`,
// then serializes and hashes the artifact. INVALID_ARGUMENT if the weights
// cannot be quantized (malformed or non-finite).
absl::StatusOr<std::shared_ptr<const PublishedModel>> Publish(
    int64_t version, int64_t round_id, const std::string& architecture,
    cohort::v1::Weights weights, std::map<std::string, double> metrics,
    bool int8);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_
