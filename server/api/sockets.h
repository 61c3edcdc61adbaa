#ifndef COHORT_SERVER_API_SOCKETS_H_
#define COHORT_SERVER_API_SOCKETS_H_

#include <string>

#include "absl/status/statusor.h"

namespace cohort::server {

// A connected non-blocking Unix socket to `path`, or -1 (nothing listening,
// or its backlog is full).
int ConnectBackend(const std::string& path);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_SOCKETS_H_
