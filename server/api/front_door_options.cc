#include "server/api/front_door.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::server {

absl::Status FitCheckInRateToRetries(const cohort::v1::ConnectionLimits& limits,
                                     absl::Duration retry_min,
                                     CheckInRate* rate) {
  if (retry_min <= absl::ZeroDuration()) return absl::OkStatus();
  const double agent_rate = 1.0 / absl::ToDoubleSeconds(retry_min);
  if (limits.check_in_rate() <= 0) {
    rate->per_second = std::max(rate->per_second, 2 * agent_rate);
    return absl::OkStatus();
  }
  if (rate->per_second < agent_rate) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.check_in_rate: ", rate->per_second,
        " a second would refuse agents that wait round.retry_min_ms (",
        absl::FormatDuration(retry_min), ") between check-ins; use at least ",
        agent_rate));
  }
  return absl::OkStatus();
}

absl::StatusOr<FrontDoorOptions> ResolveFrontDoorOptions(
    const cohort::v1::ConnectionLimits& c, int64_t descriptor_limit,
    int64_t max_message_bytes) {
  FrontDoorOptions o;
  if (c.max_buffered_bytes() > 0) o.max_buffered_bytes = c.max_buffered_bytes();
  if (c.max_buffered_bytes() < 0 || o.max_buffered_bytes < 2 * max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_buffered_bytes: ", o.max_buffered_bytes,
        " is below 2 x max_message_bytes (", max_message_bytes,
        "); legitimate messages would not fit"));
  }
  if (c.max_connections() < 0 || c.max_unauthenticated_connections() < 0 ||
      c.handshake_timeout_ms() < 0 || c.keepalive_ms() < 0 ||
      c.min_client_keepalive_ms() < 0 || c.check_in_timeout_ms() < 0 ||
      c.report_grace_ms() < 0 || c.check_in_burst() < 0 ||
      !(c.check_in_rate() >= 0) || !std::isfinite(c.check_in_rate())) {
    return absl::InvalidArgumentError(
        "limits: max_connections, max_unauthenticated_connections, "
        "handshake_timeout_ms, keepalive_ms, min_client_keepalive_ms, "
        "check_in_timeout_ms, report_grace_ms, check_in_rate and "
        "check_in_burst must not be negative (check_in_rate also finite)");
  }
  if (c.check_in_rate() > 0 && c.check_in_rate() < kMinCheckInRate) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.check_in_rate: ", c.check_in_rate(), " is below ",
        kMinCheckInRate, " (a check-in per 100 s)"));
  }
  if (c.check_in_rate() > 0) o.check_in.per_second = c.check_in_rate();
  if (c.check_in_burst() > 0) o.check_in.burst = c.check_in_burst();
  if (c.report_grace_ms() > 0) {
    o.report_grace = absl::Milliseconds(c.report_grace_ms());
  }
  if (c.check_in_timeout_ms() > 0) {
    o.check_in_timeout = absl::Milliseconds(c.check_in_timeout_ms());
  }
  if (c.keepalive_ms() > 0) o.keepalive = absl::Milliseconds(c.keepalive_ms());
  if (c.min_client_keepalive_ms() > 0) {
    o.min_client_keepalive = absl::Milliseconds(c.min_client_keepalive_ms());
  }
  if (c.max_connections() > 0) o.max_connections = c.max_connections();
  if (c.max_unauthenticated_connections() > 0) {
    o.max_unauthenticated = c.max_unauthenticated_connections();
  }
  if (c.handshake_timeout_ms() > 0) {
    o.handshake_timeout = absl::Milliseconds(c.handshake_timeout_ms());
  }
  constexpr int64_t kReserve = 256;
  const int64_t affordable = std::max<int64_t>(
      1, (descriptor_limit - kReserve) / FrontDoor::kDescriptorsPerConnection);
  if (o.max_connections > affordable) {
    LOG(WARNING) << "limits.max_connections lowered from " << o.max_connections
                 << " to " << affordable << ": the descriptor limit is "
                 << descriptor_limit << " (raise LimitNOFILE / ulimit -Hn)";
    o.max_connections = static_cast<int>(affordable);
  }
  o.max_unauthenticated = std::min(o.max_unauthenticated, o.max_connections);
  return o;
}

}  // namespace cohort::server
