// The metrics port end to end: a real cohort-server with its metrics port on
// loopback, three agents that complete a round, and Debian's real
// `prometheus` binary scraping it; the committed-rounds counter is read back
// through Prometheus's HTTP API. Skipped, saying why, when the prometheus
// binary is not installed (deploy/install-deps.sh installs it), unless
// COHORT_TEST_REQUIRE_PROMETHEUS is set, when that is a failure.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/testing/http_client.h"
#include "tests/testing/prometheus_text.h"

namespace cohort::testing {
namespace {

constexpr absl::Duration kRequestTimeout = absl::Seconds(5);

// The committed-rounds query, URL-encoded: cohort_rounds_total{outcome="committed"}.
constexpr char kCommittedQuery[] =
    "/api/v1/query?query=cohort_rounds_total%7Boutcome%3D%22committed%22%7D";

// The full path of `name` on PATH, or "" (Subprocess does not search PATH).
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "/usr/bin:/bin" : path, ':')) {
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool PollUntil(absl::Duration limit, const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return true;
}

// The first sample's value in a Prometheus instant-query answer
// ({"status":"success","data":{"result":[{"metric":{...},"value":[t,"v"]}]}}),
// or nullopt while the result is empty.
std::optional<double> FirstQueryValue(const std::string& json) {
  if (json.find("\"status\":\"success\"") == std::string::npos) {
    return std::nullopt;
  }
  const size_t value = json.find("\"value\":[");
  if (value == std::string::npos) return std::nullopt;
  const size_t open = json.find(",\"", value);
  const size_t close =
      open == std::string::npos ? open : json.find('"', open + 2);
  double v = 0;
  if (close == std::string::npos ||
      !absl::SimpleAtod(json.substr(open + 2, close - open - 2), &v)) {
    return std::nullopt;
  }
  return v;
}

class MetricsScrapeTest : public ClusterTest {
 protected:
  void SetUp() override {
    prometheus_ = FindProgram("prometheus");
    if (prometheus_.empty()) {
      constexpr char kWhy[] =
          "the prometheus binary is not installed (apt-get install "
          "prometheus; deploy/install-deps.sh does)";
      if (std::getenv("COHORT_TEST_REQUIRE_PROMETHEUS") != nullptr) {
        FAIL() << "COHORT_TEST_REQUIRE_PROMETHEUS is set but " << kWhy;
      }
      GTEST_SKIP() << kWhy;
    }
    ClusterTest::SetUp();
  }

  std::string MetricsConfig() const {
    return absl::StrCat(
        "metrics { listen_address: \"127.0.0.1:0\" port_file: \"", dir_,
        "/metrics.port\" }");
  }

  // The metrics port; the server writes its file before the device port's,
  // so call this after WaitForPort. 0 if there is none.
  int MetricsPort() const { return PortInFile(dir_ + "/metrics.port"); }

  // The committed-rounds counter as the metrics port shows it now.
  static std::optional<double> CommittedRounds(int metrics_port,
                                               const std::string& task) {
    auto got = HttpGet(metrics_port, "/metrics", kRequestTimeout);
    if (!got.ok() || got->status != 200) return std::nullopt;
    return SampleValue(got->body, "cohort_rounds_total",
                       {{"outcome", "committed"}, {"task", task}});
  }

  // Starts prometheus scraping 127.0.0.1:`target` every second, serving its
  // API on 127.0.0.1:`web_port`, with its data in this test's folder.
  std::unique_ptr<Subprocess> StartPrometheus(int target, int web_port) {
    const std::string config = dir_ + "/prometheus.yml";
    std::ofstream(config) << absl::StrCat(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: cohort\n    static_configs:\n"
        "      - targets: ['127.0.0.1:",
        target, "']\n");
    return std::make_unique<Subprocess>(
        std::vector<std::string>{
            prometheus_, "--config.file=" + config,
            "--storage.tsdb.path=" + dir_ + "/prometheus-data",
            absl::StrCat("--web.listen-address=127.0.0.1:", web_port),
            "--log.level=warn"},
        dir_ + "/prometheus.log");
  }

  std::string prometheus_;
};

TEST_F(MetricsScrapeTest, PrometheusScrapesTheCommittedRoundsCounter) {
  ServerOptions o = DirectoryServer();
  o.max_rounds = 1000;  // stopped with SIGTERM below
  o.extra = MetricsConfig();
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int metrics_port = MetricsPort();
  ASSERT_GT(metrics_port, 0) << server->Log();
  // Only GET /metrics is served.
  auto root = HttpGet(metrics_port, "/", kRequestTimeout);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->status, 404);

  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) agents.push_back(StartAgent(i, port, o.task));
  const bool committed = PollUntil(absl::Minutes(2), [&] {
    return CommittedRounds(metrics_port, o.task).value_or(0) >= 1;
  });
  ASSERT_TRUE(committed) << "no committed round after 2 minutes\n"
                         << server->Log();

  const int web_port = FreeLoopbackPort();
  ASSERT_GT(web_port, 0);
  auto prometheus = StartPrometheus(metrics_port, web_port);
  ASSERT_TRUE(prometheus->started()) << prometheus_;
  std::optional<double> scraped;
  const bool seen = PollUntil(absl::Seconds(30), [&] {
    auto got = HttpGet(web_port, kCommittedQuery, kRequestTimeout);
    if (got.ok() && got->status == 200) scraped = FirstQueryValue(got->body);
    return scraped.has_value();
  });
  EXPECT_TRUE(seen) << "Prometheus did not scrape cohort_rounds_total in 30 s\n"
                    << prometheus->Log();
  EXPECT_GE(scraped.value_or(0), 1);

  prometheus->Signal(SIGTERM);
  EXPECT_TRUE(prometheus->Wait(absl::Seconds(20)).has_value());
  for (auto& a : agents) a->Signal(SIGTERM);
  server->Signal(SIGTERM);
  const auto code = server->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.has_value()) << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
}

}  // namespace
}  // namespace cohort::testing
