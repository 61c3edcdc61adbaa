// The agent's own Prometheus counters on their own: the text they print,
// the textfile, and byte counting through the transport.

#include "client/agent/agent_counters.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/agent/agent.h"
#include "client/agent/agent_options.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/weights_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"
#include "tests/testing/fake_trainer.h"
#include "tests/testing/fake_transport.h"
#include "tests/client/agent/counter_samples.h"
#include "tests/testing/prometheus_text.h"
#include "tests/testing/test_keys.h"

namespace cohort::client {
namespace {

using ::cohort::testing::FakeTrainer;
using ::cohort::testing::FakeTransport;
using ::cohort::testing::SampleLabels;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------
// AgentCounters on its own.

TEST(AgentCountersTest, TextShowsTheExactSeriesAfterKnownCalls) {
  AgentCounters c;
  c.Retry("round_full");
  c.Retry("round_full");
  c.Retry("");
  c.Retry("a_cause_from_the_future");
  c.Assigned();
  c.RoundEnded(RoundResult::kNotUsed, absl::Now());
  c.Refused(Refusal::kDeadline);
  c.Sent(100);
  c.Received(40);
  c.Received(2);
  c.Trained(absl::Milliseconds(1500));
  c.SetModelVersion(7);
  // What the daily byte budgets are charged from.
  EXPECT_EQ(c.bytes_sent(), 100);
  EXPECT_EQ(c.bytes_received(), 42);
  const std::string text = c.Text();
  EXPECT_THAT(
      text,
      HasSubstr("\ncohort_agent_retries_total{cause=\"round_full\"} 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr("\ncohort_agent_retries_total{cause=\"unspecified\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("\ncohort_agent_retries_total{cause=\"other\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("\ncohort_agent_retries_total{cause=\"paused\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("a_cause_from_the_future")));
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_check_ins_total{result=\"retry\"} 4\n"));
  EXPECT_THAT(
      text,
      HasSubstr("\ncohort_agent_check_ins_total{result=\"assigned\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_check_ins_total{result=\"error\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\ncohort_agent_rounds_joined_total 1\n"));
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_rounds_total{result=\"not_used\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_rounds_total{result=\"accepted\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr("\ncohort_agent_refusals_total{reason=\"deadline\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_refusals_total{reason=\"secagg\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\ncohort_agent_training_seconds_total 1.5\n"));
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_bytes_total{direction=\"sent\"} 100\n"));
  EXPECT_THAT(
      text,
      HasSubstr("\ncohort_agent_bytes_total{direction=\"received\"} 42\n"));
  EXPECT_THAT(text, HasSubstr("\ncohort_agent_model_version 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE cohort_agent_rounds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE cohort_agent_model_version gauge\n"));
  // No accepted round yet: no timestamp, not a misleading 0.
  EXPECT_THAT(text,
              Not(HasSubstr("cohort_agent_last_round_timestamp_seconds")));
}

TEST(AgentCountersTest, EveryLabelValueStartsAtZero) {
  const std::string text = AgentCounters().Text();
  for (const char* result : {"assigned", "retry", "error"}) {
    EXPECT_EQ(
        Sample(text, "cohort_agent_check_ins_total", {{"result", result}}), 0)
        << result;
  }
  for (const char* cause : {"not_selecting", "round_full", "already_assigned",
                            "paused", "unspecified", "other"}) {
    EXPECT_EQ(Sample(text, "cohort_agent_retries_total", {{"cause", cause}}), 0)
        << cause;
  }
  for (RoundResult r : {RoundResult::kAccepted, RoundResult::kNotUsed,
                        RoundResult::kAbandoned}) {
    EXPECT_EQ(Sample(text, "cohort_agent_rounds_total",
                     {{"result", RoundResultName(r)}}),
              0)
        << RoundResultName(r);
  }
  for (Refusal r :
       {Refusal::kDeadline, Refusal::kModelRefused, Refusal::kModelDownload,
        Refusal::kSecAgg, Refusal::kServerRefused, Refusal::kIneligible,
        Refusal::kBudget}) {
    EXPECT_EQ(Sample(text, "cohort_agent_refusals_total",
                     {{"reason", RefusalName(r)}}),
              0)
        << RefusalName(r);
  }
  EXPECT_STREQ(RefusalName(Refusal::kIneligible), "ineligible");
  EXPECT_STREQ(RefusalName(Refusal::kBudget), "budget");
  for (const char* direction : {"sent", "received"}) {
    EXPECT_EQ(
        Sample(text, "cohort_agent_bytes_total", {{"direction", direction}}), 0)
        << direction;
  }
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_joined_total"), 0);
  EXPECT_EQ(Sample(text, "cohort_agent_training_seconds_total"), 0);
  EXPECT_EQ(Sample(text, "cohort_agent_model_version"), 0);
}

TEST(AgentCountersTest, AcceptedRoundStampsTheLastRoundTimestamp) {
  AgentCounters c;
  c.RoundEnded(RoundResult::kAccepted, absl::FromUnixSeconds(1700000000));
  c.RoundEnded(RoundResult::kAbandoned, absl::FromUnixSeconds(1800000000));
  const std::string text = c.Text();
  // The abandoned round after it does not move the stamp.
  EXPECT_THAT(
      text,
      HasSubstr("\ncohort_agent_last_round_timestamp_seconds 1700000000\n"));
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_total", {{"result", "accepted"}}),
            1);
  EXPECT_EQ(
      Sample(text, "cohort_agent_rounds_total", {{"result", "abandoned"}}), 1);
}

TEST(AgentCountersTest, RetryCauseLabelKeepsTheSetBounded) {
  EXPECT_EQ(RetryCauseLabel("not_selecting"), "not_selecting");
  EXPECT_EQ(RetryCauseLabel("already_assigned"), "already_assigned");
  EXPECT_EQ(RetryCauseLabel(""), "unspecified");
  EXPECT_EQ(RetryCauseLabel("Round_Full"), "other");
  EXPECT_EQ(RetryCauseLabel("round_full\"} 1\nevil"), "other");
}

TEST(AgentCountersTest, WriteTextfileWritesTextAndFailsOnAMissingFolder) {
  AgentCounters c;
  c.Sent(5);
  const std::string path = ::testing::TempDir() + "/agent_counters_write.prom";
  ASSERT_TRUE(WriteTextfile(c, path).ok());
  auto written = base::ReadFile(path);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, c.Text());
  EXPECT_FALSE(
      WriteTextfile(c, ::testing::TempDir() + "/no/such/folder/a.prom").ok());
}

// ---------------------------------------------------------------------------
// Byte counting through the transport.

// Counts its downloads as GrpcTransport does: kStreamed bytes per download
// (a delta, say), whatever size the artifact has.
class StreamingTransport final : public CoordinatorTransport {
 public:
  static constexpr int64_t kStreamed = 7;
  std::unique_ptr<ParticipationSession> OpenSession() override {
    return nullptr;
  }
  absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef& ref,
                                         const std::string& task) override {
    stats_.bytes_received += kStreamed;
    ++stats_.downloads;
    return std::string(100, 'w');
  }
  DownloadStats download_stats() const override { return stats_; }

 private:
  DownloadStats stats_;
};

TEST(AgentCountersTest, DownloadsCountWhatACountingTransportStreamed) {
  AgentCounters c;
  auto transport = CountTraffic(std::make_unique<StreamingTransport>(), &c);
  ASSERT_TRUE(
      transport->FetchModelFrom(cohort::v1::ModelRef(), "t", ModelBase{}).ok());
  EXPECT_EQ(
      Sample(c.Text(), "cohort_agent_bytes_total", {{"direction", "received"}}),
      StreamingTransport::kStreamed);  // not the 100 bytes returned
  EXPECT_EQ(transport->download_stats().bytes_received,
            StreamingTransport::kStreamed);  // forwarded
}

TEST(AgentCountersTest, DownloadsCountTheBytesWhenTheTransportDoesNot) {
  auto state = std::make_shared<FakeTransport::State>();
  state->model_bytes = std::string(321, 'm');
  AgentCounters c;
  auto transport = CountTraffic(std::make_unique<FakeTransport>(state), &c);
  ASSERT_TRUE(transport->FetchModel(cohort::v1::ModelRef(), "t").ok());
  EXPECT_EQ(state->fetches, 1);
  EXPECT_EQ(
      Sample(c.Text(), "cohort_agent_bytes_total", {{"direction", "received"}}),
      321);
}

}  // namespace
}  // namespace cohort::client
