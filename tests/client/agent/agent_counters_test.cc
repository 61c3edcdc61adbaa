// The agent's own Prometheus counters: the text they print, what the agent
// loop counts against a scripted coordinator (read back from the textfile it
// writes), byte counting through the transport, and the metrics_textfile
// option.

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

// The sample `name` with exactly `labels` in `text`; -1 when absent.
double Sample(const std::string& text, const std::string& name,
              const SampleLabels& labels = {}) {
  return ::cohort::testing::SampleValue(text, name, labels).value_or(-1);
}

template <typename Message>
double SizeOf(const Message& m) {
  return static_cast<double>(m.ByteSizeLong());
}

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

// ---------------------------------------------------------------------------
// The agent loop, read back from the textfile.

class AgentCountersLoopTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    options_.metrics_textfile = options_.state_dir + ".prom";
    std::filesystem::remove(options_.metrics_textfile);
  }

  cohort::v1::ServerMessage Secure(int64_t round) {
    cohort::v1::ServerMessage m = Assignment(round);
    m.mutable_task_assignment()->set_secure_aggregation(true);
    return m;
  }

  static cohort::v1::ServerMessage Retry(const std::string& cause) {
    cohort::v1::ServerMessage m;
    m.mutable_retry_window()->set_min_delay_ms(1);
    m.mutable_retry_window()->set_max_delay_ms(2);
    m.mutable_retry_window()->set_reason("round 1 is full");
    m.mutable_retry_window()->set_cause(cause);
    return m;
  }

  static cohort::v1::ServerMessage AckMessage(bool accepted) {
    cohort::v1::ServerMessage m;
    m.mutable_ack()->set_accepted(accepted);
    return m;
  }

  // The textfile as the agent left it.
  std::string Textfile() const {
    auto text = base::ReadFile(options_.metrics_textfile);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  // Bytes of every check-in, report and stream message the fake received.
  double SentByTheDevice() const {
    double sent = 0;
    for (const auto& c : state_->seen_check_ins) sent += SizeOf(c);
    for (const auto& r : state_->reports) sent += SizeOf(r);
    for (const auto& m : state_->sent) sent += SizeOf(m);
    return sent;
  }

};

TEST_F(AgentCountersLoopTest, RoundsRetriesAndBytesReachTheTextfile) {
  options_.max_rounds = 2;
  const auto retry = Retry("round_full");
  const auto first = Assignment(1);
  const auto second = Assignment(2);
  state_->check_ins = {retry, first, second};
  // Each round trains for at least 20 ms of real time.
  trainer_.between_batches = [](int) { absl::SleepFor(absl::Milliseconds(20)); };
  const absl::Time start = absl::Now();
  ASSERT_TRUE(Run().ok());
  const absl::Time end = absl::Now();
  ASSERT_EQ(state_->reports.size(), 2u);
  ASSERT_EQ(state_->fetches, 1);  // the second round reused the cached model

  const std::string text = Textfile();
  EXPECT_THAT(
      text, HasSubstr("\ncohort_agent_rounds_total{result=\"accepted\"} 2\n"));
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_total", {{"result", "not_used"}}),
            0);
  EXPECT_EQ(
      Sample(text, "cohort_agent_rounds_total", {{"result", "abandoned"}}), 0);
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_joined_total"), 2);
  EXPECT_EQ(
      Sample(text, "cohort_agent_check_ins_total", {{"result", "assigned"}}),
      2);
  EXPECT_EQ(Sample(text, "cohort_agent_check_ins_total", {{"result", "retry"}}),
            1);
  EXPECT_EQ(Sample(text, "cohort_agent_check_ins_total", {{"result", "error"}}),
            0);
  EXPECT_EQ(
      Sample(text, "cohort_agent_retries_total", {{"cause", "round_full"}}), 1);
  EXPECT_EQ(
      Sample(text, "cohort_agent_retries_total", {{"cause", "unspecified"}}),
      0);
  EXPECT_EQ(Sample(text, "cohort_agent_model_version"), 1);
  // Two rounds of at least 20 ms each, and no more than the whole run.
  EXPECT_GE(Sample(text, "cohort_agent_training_seconds_total"), 0.04);
  EXPECT_LE(Sample(text, "cohort_agent_training_seconds_total"),
            absl::ToDoubleSeconds(end - start));

  // Exactly the messages that crossed the fake, plus the one model download.
  const double sent = SentByTheDevice();
  EXPECT_GT(sent, 0);
  EXPECT_EQ(Sample(text, "cohort_agent_bytes_total", {{"direction", "sent"}}),
            sent);
  cohort::v1::Ack ack;
  ack.set_accepted(true);  // what the fake acknowledges a report with
  const double received = SizeOf(retry) + SizeOf(first) + SizeOf(second) +
                          2 * SizeOf(ack) +
                          static_cast<double>(state_->model_bytes.size());
  EXPECT_EQ(
      Sample(text, "cohort_agent_bytes_total", {{"direction", "received"}}),
      received);

  const double stamp =
      Sample(text, "cohort_agent_last_round_timestamp_seconds");
  EXPECT_GE(stamp, absl::ToDoubleSeconds(start - absl::UnixEpoch()) - 1);
  EXPECT_LE(stamp, absl::ToDoubleSeconds(end - absl::UnixEpoch()) + 1);
}

TEST_F(AgentCountersLoopTest, PassedDeadlineAndRefusedCheckInCountByReason) {
  state_->check_ins = {Assignment(1, absl::Now() - absl::Seconds(1)),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(trainer_.calls.empty());

  const std::string text = Textfile();
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_joined_total"), 1);
  EXPECT_EQ(
      Sample(text, "cohort_agent_rounds_total", {{"result", "abandoned"}}), 1);
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_total", {{"result", "accepted"}}),
            0);
  EXPECT_EQ(
      Sample(text, "cohort_agent_refusals_total", {{"reason", "deadline"}}), 1);
  EXPECT_EQ(Sample(text, "cohort_agent_refusals_total",
                   {{"reason", "server_refused"}}),
            1);
  EXPECT_EQ(Sample(text, "cohort_agent_refusals_total",
                   {{"reason", "model_download"}}),
            0);
  EXPECT_EQ(Sample(text, "cohort_agent_check_ins_total", {{"result", "error"}}),
            1);
  EXPECT_EQ(Sample(text, "cohort_agent_training_seconds_total"),
            0);                                              // never trained
  EXPECT_EQ(Sample(text, "cohort_agent_model_version"), 0);  // never fetched
  EXPECT_FALSE(::cohort::testing::SampleValue(
                   text, "cohort_agent_last_round_timestamp_seconds", {})
                   .has_value());
}

TEST_F(AgentCountersLoopTest, SecureRoundNotUsedAndFailedAreTellable) {
  // Round 1's update is acknowledged but not used; round 2's stream ends
  // before any answer (the fake has no more replies).
  state_->check_ins = {Secure(1), Secure(2),
                       absl::FailedPreconditionError("end of script")};
  state_->secure_replies = {AckMessage(false)};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_GE(state_->sent.size(), 2u);  // a ready message in each round

  const std::string text = Textfile();
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_joined_total"), 2);
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_total", {{"result", "not_used"}}),
            1);
  EXPECT_EQ(
      Sample(text, "cohort_agent_rounds_total", {{"result", "abandoned"}}), 1);
  EXPECT_EQ(Sample(text, "cohort_agent_rounds_total", {{"result", "accepted"}}),
            0);
  EXPECT_EQ(Sample(text, "cohort_agent_refusals_total", {{"reason", "secagg"}}),
            1);
  EXPECT_EQ(Sample(text, "cohort_agent_bytes_total", {{"direction", "sent"}}),
            SentByTheDevice());
}

TEST_F(AgentCountersLoopTest, RefusedReleaseCountsModelRefused) {
  testing::TestKeys keys;
  const std::string root = options_.state_dir + ".root.pb";
  ASSERT_TRUE(
      base::WriteFileAtomically(root, keys.Root().SerializeAsString()).ok());
  auto guard = ReleaseGuard::Open(root, options_.state_dir);
  ASSERT_TRUE(guard.ok()) << guard.status();
  guard_ = *std::move(guard);
  // Unsigned: the pinned root refuses it before a byte is fetched.
  state_->check_ins = {Assignment(1),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state_->fetches, 0);

  const std::string text = Textfile();
  EXPECT_EQ(Sample(text, "cohort_agent_refusals_total",
                   {{"reason", "model_refused"}}),
            1);
  EXPECT_EQ(
      Sample(text, "cohort_agent_rounds_total", {{"result", "abandoned"}}), 1);
}

TEST_F(AgentCountersLoopTest, AnUnwritableTextfileIsNotFatal) {
  options_.max_rounds = 1;
  options_.metrics_textfile =
      ::testing::TempDir() + "/agent_counters_missing_folder/x/agent.prom";
  std::filesystem::remove_all(::testing::TempDir() +
                              "/agent_counters_missing_folder");
  state_->check_ins = {Assignment(1)};
  EXPECT_TRUE(Run().ok());
  EXPECT_EQ(state_->reports.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(options_.metrics_textfile));
}

TEST_F(AgentCountersLoopTest, NoTextfileConfiguredWritesNone) {
  const std::string would_be = options_.metrics_textfile;
  options_.metrics_textfile.clear();
  options_.max_rounds = 1;
  state_->check_ins = {Assignment(1)};
  AgentCounters counters;
  Agent agent(options_, std::make_unique<FakeTransport>(state_), &trainer_,
              &stop_, nullptr, &counters);
  ASSERT_TRUE(agent.Run().ok());
  EXPECT_FALSE(std::filesystem::exists(would_be));
  // The injected counters were still kept.
  EXPECT_EQ(Sample(counters.Text(), "cohort_agent_rounds_total",
                   {{"result", "accepted"}}),
            1);
  EXPECT_EQ(&agent.counters(), &counters);
}

// ---------------------------------------------------------------------------
// The option.

TEST(AgentOptionsMetricsTest, TextfileNotEndingInPromIsRefusedNamingTheField) {
  for (const char* path : {"/var/lib/cohort-agent/agent.txt", "agent.prom.tmp",
                           "agentprom", "/var/lib/node_exporter/"}) {
    cohort::v1::AgentConfig c = MinimalAgentConfig();
    c.set_metrics_textfile(path);
    const absl::Status s = ResolveAgentOptions(c).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(std::string(s.message()), StartsWith("metrics_textfile"))
        << path;
  }
}

TEST(AgentOptionsMetricsTest, TextfileIsResolvedAndOffByDefault) {
  auto off = ResolveAgentOptions(MinimalAgentConfig());
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->metrics_textfile, "");
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  c.set_metrics_textfile("/var/lib/cohort-agent/agent.prom");
  auto on = ResolveAgentOptions(c);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->metrics_textfile, "/var/lib/cohort-agent/agent.prom");
}

}  // namespace
}  // namespace cohort::client
