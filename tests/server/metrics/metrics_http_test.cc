#include "server/metrics/metrics_http.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace cohort::server {
namespace {

// The response to `head`, and whether it built the exposition.
struct Answer {
  std::string response;
  bool collected = false;
};

Answer Ask(const std::string& head) {
  Answer a;
  a.response = MetricsResponse(head, [&a] {
    a.collected = true;
    return std::string("m 1\n");
  });
  return a;
}

TEST(MetricsHttpTest, GetMetricsAnswersTheExposition) {
  for (const char* head :
       {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /metrics?name[]=cohort_rounds_total HTTP/1.0\r\n\r\n",
        "GET /metrics HTTP/1.1\n\n"}) {
    const Answer a = Ask(head);
    EXPECT_TRUE(absl::StartsWith(a.response, "HTTP/1.1 200 OK\r\n")) << head;
    EXPECT_TRUE(absl::StrContains(
        a.response,
        absl::StrCat("Content-Type: ", kExpositionContentType, "\r\n")));
    EXPECT_TRUE(absl::StrContains(a.response, "Content-Length: 4\r\n"));
    EXPECT_TRUE(absl::StrContains(a.response, "Connection: close\r\n"));
    EXPECT_TRUE(absl::EndsWith(a.response, "\r\n\r\nm 1\n"));
    EXPECT_TRUE(a.collected);
  }
}

// Only GET /metrics is served; nothing else collects the metrics.
TEST(MetricsHttpTest, AnyOtherMethodOrPathIs404) {
  for (const char* head :
       {"POST /metrics HTTP/1.1\r\n\r\n", "HEAD /metrics HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n", "GET /metrics/x HTTP/1.1\r\n\r\n",
        "GET /metricsx HTTP/1.1\r\n\r\n", "DELETE /metrics HTTP/1.1\r\n\r\n"}) {
    const Answer a = Ask(head);
    EXPECT_TRUE(absl::StartsWith(a.response, "HTTP/1.1 404 Not Found\r\n"))
        << head;
    EXPECT_FALSE(a.collected) << head;
  }
}

TEST(MetricsHttpTest, UnparsableRequestIs400) {
  for (const char* head : {"\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n",
                           "GET /metrics SPDY/3\r\n\r\n",
                           "GET  /metrics HTTP/1.1\r\n\r\n"}) {
    const Answer a = Ask(head);
    EXPECT_TRUE(absl::StartsWith(a.response, "HTTP/1.1 400 Bad Request\r\n"))
        << head;
    EXPECT_FALSE(a.collected);
  }
  EXPECT_TRUE(absl::StartsWith(HeadTooLargeResponse(), "HTTP/1.1 400 "));
}

TEST(MetricsHttpTest, TextExpositionJoinsEveryCollectable) {
  auto first = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("a_total").Help("a").Register(*first).Add({})
      .Increment(2);
  auto second = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("b_total").Help("b").Register(*second).Add({})
      .Increment(3);
  const std::string text = TextExposition({first, second});
  EXPECT_TRUE(absl::StrContains(text, "\na_total 2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\nb_total 3\n")) << text;
  EXPECT_EQ(TextExposition({}), "");
}

}  // namespace
}  // namespace cohort::server
