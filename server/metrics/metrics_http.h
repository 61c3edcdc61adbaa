#ifndef COHORT_SERVER_METRICS_METRICS_HTTP_H_
#define COHORT_SERVER_METRICS_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"

namespace cohort::server {

// The metrics port's HTTP, without sockets: what it answers to one request.
// MetricsServer reads a request head and writes back what MetricsResponse
// returns, then closes the connection.

// Content type of the Prometheus text format, version 0.0.4.
inline constexpr char kExpositionContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

// The full HTTP/1.1 response (status line, headers, body; always
// "Connection: close") to the request head `head`, the bytes up to and
// including the blank line:
//   GET /metrics (any query)   200 with the text of `exposition()`;
//   any other method or path   404;
//   no parsable request line   400.
// `exposition` runs only for a 200.
std::string MetricsResponse(absl::string_view head,
                            const std::function<std::string()>& exposition);

// The 400 response to a request head that never ended (longer than the
// server reads).
std::string HeadTooLargeResponse();

// The Prometheus text format of everything `collectables` collect now, in
// order (prometheus-cpp's TextSerializer).
std::string TextExposition(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables);

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_METRICS_HTTP_H_
