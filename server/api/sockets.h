#ifndef COHORT_SERVER_API_SOCKETS_H_
#define COHORT_SERVER_API_SOCKETS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace cohort::server {

// A connected non-blocking Unix socket to `path`, or -1 (nothing listening,
// or its backlog is full). A non-empty `client_name` is first bound in
// Linux's abstract namespace (see RelayedPeerName); -1 if that fails.
int ConnectBackend(const std::string& path, absl::string_view client_name = {});

// The name FrontDoor binds its end of relay `relay_id` to, so that gRPC's
// peer() of the relayed calls still says where the device connected from:
// "cohort-door/<pid>/<relay_id>/<device>", <device> being "ipv4:a.b.c.d:port"
// or "ipv6:[addr]:port" (gRPC's own form). Empty for another address family.
// At most 107 bytes, the abstract namespace's limit.
std::string RelayedPeerName(uint64_t relay_id, const sockaddr_storage& device);

// gRPC's peer() of a call with a relayed connection's device address
// recovered: "ipv4:10.0.0.7:40112" for a call that came through FrontDoor,
// any other peer unchanged.
std::string DevicePeer(absl::string_view grpc_peer);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_SOCKETS_H_
