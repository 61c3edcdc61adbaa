#ifndef COHORT_COMMON_BASE_HOST_PORT_H_
#define COHORT_COMMON_BASE_HOST_PORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::base {

struct HostPort {
  std::string host;  // without the brackets of "[v6]"; may be empty
  int port = 0;
};

// Splits "host:port" or "[v6]:port" at the last colon. INVALID_ARGUMENT
// naming `field` (e.g. "listen_address") when there is no numeric port.
absl::StatusOr<HostPort> SplitHostPort(absl::string_view address,
                                       absl::string_view field);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_HOST_PORT_H_
