// What the agent loop counts against a scripted coordinator, read back from
// the textfile it writes.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/agent/agent.h"
#include "client/agent/agent_counters.h"
#include "client/agent/agent_options.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/weights_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"
#include "tests/client/agent/counter_samples.h"
#include "tests/testing/fake_trainer.h"
#include "tests/testing/fake_transport.h"
#include "tests/testing/test_keys.h"

namespace cohort::client {
namespace {

using ::cohort::testing::FakeTrainer;
using ::cohort::testing::FakeTransport;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

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

}  // namespace
}  // namespace cohort::client
