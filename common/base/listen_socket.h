#ifndef COHORT_COMMON_BASE_LISTEN_SOCKET_H_
#define COHORT_COMMON_BASE_LISTEN_SOCKET_H_

#include <string>

#include "absl/status/statusor.h"

namespace cohort::base {

// A non-blocking, close-on-exec TCP socket listening on `address`
// ("host:port", "[v6]:port"; port 0 picks one), with SO_REUSEADDR and
// a SOMAXCONN backlog. INVALID_ARGUMENT for an address that is not
// host:port or does not resolve; UNAVAILABLE if no resolved address can be
// bound (in use or not local). The one listener of the public port and the
// metrics port.
absl::StatusOr<int> BindListener(const std::string& address);

// The port a bound socket listens on; 0 if it cannot be read.
int BoundPort(int fd);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_LISTEN_SOCKET_H_
