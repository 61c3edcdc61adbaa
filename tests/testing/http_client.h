#ifndef COHORT_TESTS_TESTING_HTTP_CLIENT_H_
#define COHORT_TESTS_TESTING_HTTP_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::testing {

struct HttpResponse {
  int status = 0;     // e.g. 200, 404
  std::string body;   // after the headers
};

// One plain HTTP/1.0 request ("GET", "POST", ...) for `target` (path and
// query, e.g. "/metrics") to 127.0.0.1:`port`, the response read until the
// server closes the connection. Loopback only, no TLS, no chunked decoding
// (HTTP/1.0 responses are not chunked). The whole exchange is bounded by
// `timeout`: DEADLINE_EXCEEDED past it; UNAVAILABLE if the connection is
// refused or fails; INTERNAL for a response without an HTTP status line.
absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& target,
                                         absl::Duration timeout);

// HttpRequest with "GET".
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     absl::Duration timeout);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released), for a program that cannot pick its own; 0 on failure. Another
// process may take it in between, so use it at once.
int FreeLoopbackPort();

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_HTTP_CLIENT_H_
