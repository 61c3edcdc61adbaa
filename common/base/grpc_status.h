#ifndef COHORT_COMMON_BASE_GRPC_STATUS_H_
#define COHORT_COMMON_BASE_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace cohort::base {

// The one mapping between absl::Status and grpc::Status: the same code (the
// two enums share their numbers) and message, both ways.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_GRPC_STATUS_H_
