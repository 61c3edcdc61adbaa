#include "sim/in_process_transport.h"

#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/round/device_session.h"

namespace cohort::sim {
namespace {

// The engine's pushes to one session, queued until the simulator reads them.
class Inbox final : public server::DeviceChannel {
 public:
  void Send(cohort::v1::ServerMessage message) override {
    absl::MutexLock lock(&mu_);
    if (!closed_) queue_.push_back(std::move(message));
  }
  std::optional<cohort::v1::ServerMessage> Pop() {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return std::nullopt;
    auto m = std::move(queue_.front());
    queue_.pop_front();
    return m;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    queue_.clear();
  }

 private:
  absl::Mutex mu_;
  std::deque<cohort::v1::ServerMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// A thin adapter over server::DeviceSession, which holds the device rules
// the gRPC reactor applies too.
class InProcessSession final : public client::ParticipationSession {
 public:
  explicit InProcessSession(server::RoundEngine* engine)
      : session_(engine, /*live=*/nullptr, /*cert_name=*/""),
        inbox_(std::make_shared<Inbox>()) {}
  ~InProcessSession() override { Close(); }

  absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
      const cohort::v1::CheckIn& check_in) override {
    if (closed_) return absl::FailedPreconditionError("session is closed");
    auto outcome = session_.CheckIn(check_in);
    if (!outcome.ok()) return outcome.status();
    cohort::v1::ServerMessage reply;
    if (auto* a = std::get_if<cohort::v1::TaskAssignment>(&*outcome)) {
      *reply.mutable_task_assignment() = std::move(*a);
    } else {
      *reply.mutable_retry_window() =
          std::move(std::get<cohort::v1::RetryWindow>(*outcome));
    }
    return reply;
  }

  absl::StatusOr<cohort::v1::Ack> Report(
      const cohort::v1::Report& report) override {
    if (closed_) return absl::FailedPreconditionError("session is closed");
    return session_.Report(report);
  }

  absl::Status Send(const cohort::v1::ClientMessage& message) override {
    if (!ended_.ok()) return ended_;
    if (closed_) return absl::FailedPreconditionError("session is closed");
    if (!message.has_secagg()) {
      return absl::InvalidArgumentError("only SecAgg messages are sent here");
    }
    auto ack = session_.SecAgg(message.secagg(), inbox_);
    if (!ack.ok()) {
      // As over gRPC: the stream ends with the error, the device is dropped.
      ended_ = ack.status();
      Close();
      return absl::OkStatus();
    }
    if (ack->has_value()) {
      cohort::v1::ServerMessage m;
      *m.mutable_ack() = **ack;
      inbox_->Send(std::move(m));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<cohort::v1::ServerMessage> Receive() override {
    if (auto m = inbox_->Pop()) {
      if (m->has_ack()) session_.Answered();  // the stream's answer is final
      return *std::move(m);
    }
    if (!ended_.ok()) return ended_;
    if (closed_) return absl::FailedPreconditionError("session is closed");
    return absl::UnavailableError("no message queued");
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    session_.End();
    if (ended_.ok()) inbox_->Close();
  }

 private:
  server::DeviceSession session_;
  const std::shared_ptr<Inbox> inbox_;
  absl::Status ended_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<client::ParticipationSession> InProcessTransport::OpenSession() {
  return std::make_unique<InProcessSession>(engine_);
}

absl::StatusOr<std::string> InProcessTransport::FetchModel(
    const cohort::v1::ModelRef& ref, const std::string& task) {
  auto model = engine_->FindModel(ref.version());
  if (model == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("model version ", ref.version(), " is not served"));
  }
  return model->bytes;
}

}  // namespace cohort::sim
