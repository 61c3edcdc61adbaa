#ifndef COHORT_TESTS_TESTING_FAKE_TRANSPORT_H_
#define COHORT_TESTS_TESTING_FAKE_TRANSPORT_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/transport/transport.h"

namespace cohort::testing {

// A scripted coordinator for agent tests. Each session's check-in answer is
// taken from `check_ins` in order (the last one repeats); reports and sent
// messages are recorded; Receive() replays `secure_replies`. Thread-safe
// enough for an agent loop plus a test thread that only reads counters
// after the loop ends.
class FakeTransport final : public client::CoordinatorTransport {
 public:
  struct State {
    std::deque<absl::StatusOr<cohort::v1::ServerMessage>> check_ins;
    std::vector<cohort::v1::CheckIn> seen_check_ins;
    std::vector<cohort::v1::Report> reports;
    std::vector<cohort::v1::ClientMessage> sent;
    std::deque<cohort::v1::ServerMessage> secure_replies;
    std::string model_bytes;
    int fetches = 0;
    int diagnoses = 0;
    int closes = 0;
    absl::Status diagnosis;  // what Diagnose() returns
  };

  explicit FakeTransport(std::shared_ptr<State> state) : state_(std::move(state)) {}

  std::unique_ptr<client::ParticipationSession> OpenSession() override {
    return std::make_unique<Session>(state_);
  }
  absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef& ref,
                                         const std::string& task) override {
    ++state_->fetches;
    return state_->model_bytes;
  }
  absl::Status Diagnose() override {
    ++state_->diagnoses;
    return state_->diagnosis;
  }

 private:
  class Session final : public client::ParticipationSession {
   public:
    explicit Session(std::shared_ptr<State> s) : s_(std::move(s)) {}
    absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
        const cohort::v1::CheckIn& check_in) override {
      s_->seen_check_ins.push_back(check_in);
      auto answer = s_->check_ins.front();
      if (s_->check_ins.size() > 1) s_->check_ins.pop_front();
      return answer;
    }
    absl::StatusOr<cohort::v1::Ack> Report(
        const cohort::v1::Report& report) override {
      s_->reports.push_back(report);
      cohort::v1::Ack ack;
      ack.set_accepted(true);
      return ack;
    }
    absl::Status Send(const cohort::v1::ClientMessage& message) override {
      s_->sent.push_back(message);
      return absl::OkStatus();
    }
    absl::StatusOr<cohort::v1::ServerMessage> Receive() override {
      if (s_->secure_replies.empty()) {
        return absl::UnavailableError("fake: stream ended");
      }
      auto m = s_->secure_replies.front();
      s_->secure_replies.pop_front();
      return m;
    }
    void Close() override { ++s_->closes; }

   private:
    std::shared_ptr<State> s_;
  };

  std::shared_ptr<State> state_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FAKE_TRANSPORT_H_
