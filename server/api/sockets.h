#ifndef COHORT_SERVER_API_SOCKETS_H_
#define COHORT_SERVER_API_SOCKETS_H_

#include <string>

#include "absl/status/statusor.h"

namespace cohort::server {

// A non-blocking, close-on-exec TCP socket listening on `address`
// ("host:port", "[v6]:port"; port 0 picks one). INVALID_ARGUMENT for an
// address that is not host:port or does not resolve; UNAVAILABLE if no
// resolved address can be bound (in use or not local).
absl::StatusOr<int> BindListener(const std::string& address);

// The port a bound socket listens on.
int BoundPort(int fd);

// A connected non-blocking Unix socket to `path`, or -1 (nothing listening,
// or its backlog is full).
int ConnectBackend(const std::string& path);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_SOCKETS_H_
