#ifndef COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_
#define COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "cohort/v1/model.pb.h"

namespace cohort::server {

// A committed model version as devices see it: the weights, their serialized
// bytes (streamed by FetchModel) and the bytes' SHA-256. Immutable once built;
// shared read-only between the engine and RPC reactors.
struct PublishedModel {
  int64_t version = 0;
  int64_t round_id = 0;
  std::string architecture;
  cohort::v1::Weights weights;
  std::string bytes;
  std::string sha256;
  std::map<std::string, double> metrics;
};

// Builds a PublishedModel, serializing and hashing `weights`.
std::shared_ptr<const PublishedModel> Publish(
    int64_t version, int64_t round_id, const std::string& architecture,
    cohort::v1::Weights weights, std::map<std::string, double> metrics);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_PUBLISHED_MODEL_H_
