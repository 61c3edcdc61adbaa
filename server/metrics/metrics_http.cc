#include "server/metrics/metrics_http.h"

#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace cohort::server {
namespace {

std::string Response(int status, absl::string_view reason,
                     absl::string_view content_type, absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", status, " ", reason,
                      "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

std::string Plain(int status, absl::string_view reason) {
  return Response(status, reason, "text/plain; charset=utf-8",
                  absl::StrCat(reason, "\n"));
}

}  // namespace

std::string MetricsResponse(absl::string_view head,
                            const std::function<std::string()>& exposition) {
  const absl::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/")) {
    return Plain(400, "Bad Request");
  }
  const absl::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (parts[0] != "GET" || path != "/metrics") return Plain(404, "Not Found");
  return Response(200, "OK", kExpositionContentType, exposition());
}

std::string HeadTooLargeResponse() { return Plain(400, "Bad Request"); }

std::string TextExposition(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : collectables) {
    std::vector<prometheus::MetricFamily> more = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace cohort::server
