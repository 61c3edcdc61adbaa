#include "server/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "gtest/gtest.h"
#include "server/metrics/live_gauges.h"
#include "server/metrics/round_counters.h"
#include "tests/testing/http_client.h"
#include "tests/testing/prometheus_text.h"

namespace cohort::server {
namespace {

using ::cohort::testing::HttpGet;
using ::cohort::testing::HttpRequest;
using ::cohort::testing::HttpResponse;
using ::cohort::testing::SampleValue;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// A counter with one committed round and a live gauge at version 5.
class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    counters_ = std::make_shared<RoundCounters>("t");
    RoundSummary committed;
    committed.version = 5;
    committed.assigned = 3;
    committed.participants = 3;
    counters_->Record(committed);
    gauges_ = std::make_shared<LiveGauges>("t", [] {
      LiveState state;
      auto model = std::make_shared<PublishedModel>();
      model->version = 5;
      state.model = model;
      return state;
    });
  }

  std::vector<std::shared_ptr<prometheus::Collectable>> Collectables() const {
    return {counters_->registry(), gauges_};
  }

  std::shared_ptr<RoundCounters> counters_;
  std::shared_ptr<LiveGauges> gauges_;
};

TEST_F(MetricsServerTest, ServesBothCollectablesOnAFreeLoopbackPort) {
  auto server = MetricsServer::Start("127.0.0.1:0", Collectables());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  absl::StatusOr<HttpResponse> got =
      HttpGet((*server)->port(), "/metrics", kTimeout);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(SampleValue(got->body, "cohort_rounds_total",
                        {{"outcome", "committed"}, {"task", "t"}}),
            1)
      << got->body;
  EXPECT_EQ(SampleValue(got->body, "cohort_model_version", {{"task", "t"}}), 5)
      << got->body;
}

// The port serves GET /metrics and nothing else.
TEST_F(MetricsServerTest, AnyOtherRequestGets404) {
  auto server = MetricsServer::Start("127.0.0.1:0", Collectables());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  for (const char* path : {"/", "/debug", "/api/v1/query"}) {
    absl::StatusOr<HttpResponse> got = HttpGet(port, path, kTimeout);
    ASSERT_TRUE(got.ok()) << path << ": " << got.status();
    EXPECT_EQ(got->status, 404) << path;
  }
  absl::StatusOr<HttpResponse> post =
      HttpRequest(port, "POST", "/metrics", kTimeout);
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->status, 404);
}

TEST_F(MetricsServerTest, PortInUseIsUnavailableNotAnException) {
  auto first = MetricsServer::Start("127.0.0.1:0", Collectables());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsServer::Start(
      absl::StrCat("127.0.0.1:", (*first)->port()), Collectables());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(second.status().message(), "listen_address: "))
      << second.status();
}

TEST_F(MetricsServerTest, AddressThatIsNotHostPortIsInvalid) {
  for (const char* address : {"nonsense", "127.0.0.1:99999"}) {
    auto server = MetricsServer::Start(address, Collectables());
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << server.status();
  }
}

// A request head that never ends is cut off at kMaxRequestBytes.
TEST_F(MetricsServerTest, OversizedRequestGets400) {
  auto server = MetricsServer::Start("127.0.0.1:0", Collectables());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string path(MetricsServer::kMaxRequestBytes + 1, 'a');
  absl::StatusOr<HttpResponse> got =
      HttpGet((*server)->port(), "/" + path, kTimeout);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 400);
}

// A client that connects and stalls holds the one serving thread until its
// exchange times out; stopping the server does not wait for that.
TEST_F(MetricsServerTest, StopsWhileAClientStalls) {
  auto server = MetricsServer::Start("127.0.0.1:0", Collectables());
  ASSERT_TRUE(server.ok()) << server.status();
  const int stalled = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(stalled, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(stalled, reinterpret_cast<const sockaddr*>(&addr),
                      sizeof(addr)),
            0);
  ASSERT_EQ(::send(stalled, "GET /met", 8, MSG_NOSIGNAL), 8);
  server->reset();  // returns once the serving thread has stopped
  char byte;
  // The server closed the stalled connection without an answer (FIN, or a
  // reset if it was still in the backlog).
  EXPECT_LE(::recv(stalled, &byte, 1, 0), 0);
  ::close(stalled);
}

TEST_F(MetricsServerTest, ServeMetricsIsOffByDefault) {
  auto server = ServeMetrics(MetricsOptions{}, Collectables());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(*server == nullptr);
}

TEST_F(MetricsServerTest, ServeMetricsWritesTheBoundPort) {
  MetricsOptions options;
  options.listen_address = "127.0.0.1:0";
  options.port_file = absl::StrCat(::testing::TempDir(), "/metrics_port_",
                                   ::getpid());
  auto server = ServeMetrics(options, Collectables());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(*server != nullptr);
  auto written = base::ReadFile(options.port_file);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, absl::StrCat((*server)->port(), "\n"));
  ::unlink(options.port_file.c_str());
}

TEST_F(MetricsServerTest, ServeMetricsNamesTheConfigField) {
  auto first = MetricsServer::Start("127.0.0.1:0", Collectables());
  ASSERT_TRUE(first.ok()) << first.status();
  MetricsOptions options;
  options.listen_address = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = ServeMetrics(options, Collectables());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::StartsWith(second.status().message(),
                               "metrics.listen_address: "))
      << second.status();
}

}  // namespace
}  // namespace cohort::server
