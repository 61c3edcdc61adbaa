#ifndef COHORT_COMMON_SECAGG_SECAGG_WIRE_H_
#define COHORT_COMMON_SECAGG_SECAGG_WIRE_H_

// Conversions between the SecAgg+ message structs (secagg_messages.h) and the
// cohort.v1 protos carried on the Participate stream. Parsing checks only the
// shape a struct needs (field presence, the packed input's exact length);
// the state machines check everything else and drop the sender.

#include "absl/status/statusor.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/secagg_messages.h"
#include "common/secagg/secure_update.h"

namespace cohort::secagg {

cohort::v1::SecAggClientMessage ToProto(const ClientToServer& message,
                                        const SecAggConfig& config);
// INVALID_ARGUMENT for an empty message, a ready message (not a protocol
// message) or a masked input whose packing does not match `config`.
absl::StatusOr<ClientToServer> FromProto(
    const cohort::v1::SecAggClientMessage& message, const SecAggConfig& config);

cohort::v1::SecAggServerMessage ToProto(const ServerToClient& message);
// INVALID_ARGUMENT for an empty message or a begin message.
absl::StatusOr<ServerToClient> FromProto(
    const cohort::v1::SecAggServerMessage& message);

// What SecAggBegin tells one device.
struct BeginParams {
  SecAggConfig config;
  int client_id = -1;
  UpdateEncoding encoding;
  // Buffered rounds: the factor the device scales its delta by before
  // encoding (FedBuff's staleness weight), in (0, 1].
  double update_scale = 1.0;
};

cohort::v1::SecAggBegin MakeBegin(const BeginParams& params);
// INVALID_ARGUMENT, naming the field, unless the parameters are consistent:
// 2 <= n <= kMaxClients, a client id in [0, n), 1 <= t <= k < n, a valid
// encoding whose input length is vector_length and whose modulus is bits,
// and an update_scale of 0 (read as 1) or in (0, 1].
absl::StatusOr<BeginParams> ParseBegin(const cohort::v1::SecAggBegin& begin);

inline constexpr int kMaxClients = 100000;

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_SECAGG_WIRE_H_
