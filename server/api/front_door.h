#ifndef COHORT_SERVER_API_FRONT_DOOR_H_
#define COHORT_SERVER_API_FRONT_DOOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/config.pb.h"
#include "server/api/check_in_limiter.h"

namespace cohort::server {

// Limits of the coordinator's public port. Defaults are members, as in
// RoundOptions; ResolveFrontDoorOptions fills them from ConnectionLimits.
struct FrontDoorOptions {
  // Relayed connections open at once. Each holds 3 descriptors (the device's
  // socket and both ends of the private Unix socket) and, only while one
  // side is slower to take bytes than the other sends them, up to
  // 2 x kRelayBufferBytes of relay buffers.
  int max_connections = 1024;
  // Connections still in their TLS handshake: younger than
  // `handshake_timeout` (gRPC closes any that has not finished its
  // handshake by then) and not yet sent application data by gRPC after its
  // first flight (which gRPC sends only once the handshake is over). A
  // flood of raw TCP connections fills this pool and nothing else, while a
  // reconnect storm of real devices moves through it as fast as their
  // handshakes finish.
  int max_unauthenticated = 128;
  absl::Duration handshake_timeout = absl::Seconds(10);
  // HTTP/2 keepalive of the relayed connections. gRPC applies these, not the
  // door; they are resolved here with the rest of ConnectionLimits.
  absl::Duration keepalive = absl::Seconds(20);
  absl::Duration min_client_keepalive = absl::Seconds(5);
  // How long a Participate stream waits for its CheckIn. The reactor
  // applies it, not the door (see ConnectionLimits.check_in_timeout_ms).
  absl::Duration check_in_timeout = absl::Seconds(10);
  // How long past the report deadline a stream holding an assignment waits
  // for its device (ConnectionLimits.report_grace_ms).
  absl::Duration report_grace = absl::Seconds(60);
  // gRPC's memory quota for transport buffers (see ConnectionLimits).
  int64_t max_buffered_bytes = int64_t{256} << 20;
  // Check-ins per source (ConnectionLimits.check_in_rate, check_in_burst).
  // CoordinatorService applies it, not the door.
  CheckInRate check_in;
};

// The slowest check_in_rate accepted, a check-in per 100 s.
inline constexpr double kMinCheckInRate = 0.01;

// A well-behaved agent waits at least `retry_min` (the round's RetryWindow
// floor) between check-ins, so the limit must admit 1 / retry_min a second:
// an unset check_in_rate rises to twice that when the default is lower, and
// a configured one below it is INVALID_ARGUMENT naming the field.
absl::Status FitCheckInRateToRetries(const cohort::v1::ConnectionLimits& limits,
                                     absl::Duration retry_min,
                                     CheckInRate* rate);

// Fills FrontDoorOptions from the config. `descriptor_limit` is the process's
// soft RLIMIT_NOFILE: max_connections is lowered to what it allows after a
// reserve of 256 for the store, files and gRPC itself (logged when lowered).
// INVALID_ARGUMENT naming the field for a negative value, or for
// max_buffered_bytes below 2 x `max_message_bytes`.
absl::StatusOr<FrontDoorOptions> ResolveFrontDoorOptions(
    const cohort::v1::ConnectionLimits& limits, int64_t descriptor_limit,
    int64_t max_message_bytes);

// FrontDoor owns the coordinator's public TCP socket and relays each accepted
// connection, byte for byte, to gRPC serving on a Unix socket in a private
// directory. TLS still ends in gRPC, so peer certificates are unchanged, and
// the door's end of each relay is named after the device's address
// (RelayedPeerName), so DevicePeer(context->peer()) still tells where a call
// came from.
//
// Why: gRPC 1.51 has no connection limit, and its listener stops accepting
// for good after one accept4() failure such as EMFILE. The door instead
//  - refuses (accepts and closes at once, so the backlog drains) a connection
//    over max_connections or over max_unauthenticated;
//  - on EMFILE / ENFILE frees a reserve descriptor to accept and close one
//    pending connection, then keeps listening;
//  - bounds in-flight bytes per connection to two relay buffers, reading
//    from a side only while nothing it sent is waiting for the other; a
//    connection whose bytes flow holds no buffer at all;
//  - sets TCP_NODELAY on device sockets, as gRPC does on its own.
//
// Thread-safety: Start() runs one epoll thread; Stop() (also run by the
// destructor) ends it and closes every connection. The counters are atomics
// readable from any thread.
class FrontDoor {
 public:
  static constexpr int kRelayBufferBytes = 128 * 1024;
  // Descriptors each relayed connection holds (see max_connections).
  static constexpr int kDescriptorsPerConnection = 3;

  struct Counters {
    std::atomic<int64_t> accepted{0};
    std::atomic<int64_t> refused{0};  // over a limit, or backend unreachable
    std::atomic<int64_t> shed_on_descriptor_exhaustion{0};
    std::atomic<int> open{0};
    std::atomic<int> unauthenticated{0};
  };

  // Binds `listen_address` ("host:port", port 0 picks one) and prepares to
  // relay to the Unix socket at `backend_path`. INVALID_ARGUMENT for a bad
  // address, UNAVAILABLE if it cannot bind.
  static absl::StatusOr<std::unique_ptr<FrontDoor>> Listen(
      const std::string& listen_address, std::string backend_path,
      FrontDoorOptions options);
  ~FrontDoor();
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  int port() const { return port_; }
  const Counters& counters() const { return counters_; }

  // Starts relaying. Call once.
  void Start();
  // Stops accepting and closes every relayed connection. Idempotent.
  void Stop();

 private:
  class Loop;
  FrontDoor(int listen_fd, int port, std::string backend_path,
            FrontDoorOptions options);

  int listen_fd_;
  int port_;
  std::string backend_path_;
  FrontDoorOptions options_;
  Counters counters_;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_FRONT_DOOR_H_
