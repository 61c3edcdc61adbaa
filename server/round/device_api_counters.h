#ifndef COHORT_SERVER_ROUND_DEVICE_API_COUNTERS_H_
#define COHORT_SERVER_ROUND_DEVICE_API_COUNTERS_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace cohort::server {

// What the device API counts, for the coordinator's metrics
// (server/metrics/device_api_metrics.h implements it with Prometheus). The
// device conversation (DeviceSession) reports check-ins and refused
// messages, the gRPC reactors the bytes they move. Every argument is one of
// a small fixed set of words, so each may become a metric label.
// Implementations must be thread-safe: gRPC threads call them.
class DeviceApiCounters {
 public:
  virtual ~DeviceApiCounters() = default;

  // One check-in answered. `result`: "assigned"; a RetryWindow.cause
  // ("not_selecting", "round_full", "already_assigned", "paused"); or
  // "refused" (the check-in itself was refused: a device id outside the
  // stores' rule, another population, a second check-in);
  // "store_unavailable" (rounds are paused while the store is away); or "timed_out"
  // (no whole CheckIn arrived within the check-in timeout; the stream was
  // ended).
  virtual void CheckIn(absl::string_view result) = 0;

  // A device message the round did not take. `kind`: "report" or "secagg".
  // `reason`: "malformed" (refused content: names, shapes, NaN, counts, a
  // bad SecAgg message; the device is dropped), "not_in_round" (a wrong
  // round, a device not in it, a second report), "no_assignment" (nothing
  // assigned on this conversation), "late" (the round had stopped taking
  // updates), "timed_out" (nothing arrived from an assigned device until
  // after the report deadline; the stream was ended) or "other".
  virtual void Rejected(absl::string_view kind, absl::string_view reason) = 0;

  // Serialized message bytes of one RPC (`rpc`: "participate" or
  // "fetch_model"), `direction` "in" (from devices) or "out" (to devices).
  // Payload bytes: gRPC framing, HTTP/2 and TLS add a few percent.
  virtual void Bytes(absl::string_view rpc, absl::string_view direction,
                     int64_t bytes) = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_DEVICE_API_COUNTERS_H_
