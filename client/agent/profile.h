#ifndef COHORT_CLIENT_AGENT_PROFILE_H_
#define COHORT_CLIENT_AGENT_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "common/data/dataset.h"
#include "common/ml/op_profile.h"

namespace cohort::client {

// `cohort-agent profile`: how the device runs its current model.
struct ProfileOptions {
  int runs_batch1 = 200;
  int runs_batch32 = 30;
  // Forward passes at batch 1 recorded by the operator profiler.
  int profiled_runs = 50;
};

struct ProfileReport {
  std::string architecture;
  bool int8 = false;   // the model ran on int8 kernels
  std::string engine;  // quantized engine ("qnnpack", "onednn") or "fp32"
  int64_t examples = 0;
  double p50_b1_ms = 0, p95_b1_ms = 0, p50_b32_ms = 0, p95_b32_ms = 0;
  double peak_rss_mib = 0;
  std::vector<ml::OperatorTime> operators;  // most self time first
};

// Runs `model` (an int8 artifact runs on int8 kernels, calibrated on the
// device's own data; fp32 weights run as they are) over the device's
// examples. INVALID_ARGUMENT if the weights do not fit the architecture or
// the data is empty.
absl::StatusOr<ProfileReport> ProfileModel(const cohort::v1::Weights& model,
                                           const std::string& architecture,
                                           const data::ImageDataset& data,
                                           const ProfileOptions& options = {});

// A human-readable report, or one JSON object.
std::string FormatProfile(const ProfileReport& report, bool json);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_PROFILE_H_
