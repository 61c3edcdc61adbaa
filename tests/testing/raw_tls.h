#ifndef COHORT_TESTS_TESTING_RAW_TLS_H_
#define COHORT_TESTS_TESTING_RAW_TLS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort::testing {

// A TLS client on loopback that writes exactly the bytes a test gives it,
// for behaviour no gRPC client produces: a request that stops in the middle
// of a message, frames sent one byte at a time. ALPN "h2", as gRPC requires.
class RawTlsConnection {
 public:
  ~RawTlsConnection();
  RawTlsConnection(const RawTlsConnection&) = delete;
  RawTlsConnection& operator=(const RawTlsConnection&) = delete;

  // Connects to 127.0.0.1:`port` and completes the handshake, verifying the
  // server against `ca_path` for `server_name`. `cert_path`/`key_path`
  // (both or neither) are a client certificate. UNAVAILABLE when the
  // connection or the handshake fails, with OpenSSL's reason. Under TLS 1.3
  // a server that refuses the client's certificate says so after the
  // client's side of the handshake is done: Connect succeeds, and the
  // connection is closed() after the next read. Ignores SIGPIPE in the
  // process.
  static absl::StatusOr<std::unique_ptr<RawTlsConnection>> Connect(
      int port, const std::string& ca_path, const std::string& server_name,
      const std::string& cert_path = "", const std::string& key_path = "");

  bool Write(absl::string_view bytes);
  // What arrives within `timeout`; stops early when the server closes.
  std::string ReadFor(absl::Duration timeout);
  // Whether the server closed the connection (so far).
  bool closed() const { return closed_; }

 private:
  RawTlsConnection() = default;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool closed_ = false;
};

// HTTP/2 (RFC 9113) pieces for a gRPC request on such a connection.
namespace http2 {

constexpr uint8_t kData = 0x0;
constexpr uint8_t kHeaders = 0x1;
constexpr uint8_t kRstStream = 0x3;
constexpr uint8_t kSettings = 0x4;
constexpr uint8_t kGoAway = 0x7;
constexpr uint8_t kEndStream = 0x1;
constexpr uint8_t kEndHeaders = 0x4;

// The client's connection preface and an empty SETTINGS frame.
std::string ClientPreface();
std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                  absl::string_view payload);
// A HEADERS frame opening a gRPC call to `path` (e.g.
// "/cohort.v1.Coordinator/Participate") on `stream`, with HPACK literals.
std::string GrpcRequestHeaders(uint32_t stream, absl::string_view path,
                               absl::string_view authority);
// The 5-byte gRPC message prefix: not compressed, `length` bytes follow.
std::string GrpcMessagePrefix(uint32_t length);

struct FrameHeader {
  uint32_t length = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
};
// Whether `bytes` (a server's output from its first frame on) holds a frame
// of `type` on `stream` whose flags include `flags`.
bool HasFrame(absl::string_view bytes, uint8_t type, uint32_t stream,
              uint8_t flags = 0);

}  // namespace http2
}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_RAW_TLS_H_
