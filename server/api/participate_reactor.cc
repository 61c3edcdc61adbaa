#include "server/api/participate_reactor.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"

namespace cohort::server {
namespace {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

// The same rule the stores apply to device ids, so every device the engine
// accepts can also be recorded.
bool ValidDeviceId(const std::string& id) {
  if (id.empty() || id.size() > 128 ||
      !std::isalnum(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

class ParticipateReactor;

// What the engine holds to push messages onto this stream. It outlives the
// reactor; once the reactor is gone, sends are dropped.
class StreamChannel final : public DeviceChannel {
 public:
  explicit StreamChannel(ParticipateReactor* reactor) : reactor_(reactor) {}
  void Send(ServerMessage message) override;
  void Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  ParticipateReactor* reactor_ ABSL_GUARDED_BY(mu_);
};

// CheckIn -> (RetryWindow | TaskAssignment -> (Report | SecAgg...) -> Ack).
// One read is outstanding at a time (the reads are serialized); writes are
// queued because the engine may push SecAgg messages from other threads.
// The stream finishes after its last message (a RetryWindow or an Ack) is
// written, or at once with an error status.
class ParticipateReactor final
    : public grpc::ServerBidiReactor<ClientMessage, ServerMessage> {
 public:
  ParticipateReactor(RoundEngine* engine, std::string cert_name)
      : engine_(engine),
        cert_name_(std::move(cert_name)),
        channel_(std::make_shared<StreamChannel>(this)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The device went away (or sent an oversized message, which gRPC has
      // already failed with RESOURCE_EXHAUSTED).
      DropIfAssigned();
      FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "stream ended"));
      return;
    }
    if (device_.empty()) {
      HandleCheckIn();
    } else if (in_.has_report()) {
      HandleReport();
    } else if (in_.has_secagg()) {
      HandleSecAgg();
    } else {
      DropIfAssigned();
      FinishWith(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              "expected Report or SecAgg after TaskAssignment"));
    }
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (pending_finish_.has_value()) {
        Finish(*pending_finish_);
        pending_finish_.reset();
        return;
      }
      if (finished_) return;
      if (ok && current_is_last_) {
        finished_ = true;
        Finish(grpc::Status::OK);
        return;
      }
      if (ok) {
        WriteNextLocked();
        return;
      }
    }
    DropIfAssigned();
    FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
  }

  void OnDone() override {
    channel_->Detach();
    delete this;
  }

  // Queues a message (any thread).
  void Enqueue(ServerMessage message) {
    absl::MutexLock lock(&mu_);
    if (finished_ || closing_) return;
    if (message.has_ack() || message.has_retry_window()) {
      // Nothing more is read from a stream whose answer is final.
      closing_ = true;
      assigned_ = false;
    }
    out_.push_back(std::move(message));
    if (!writing_) WriteNextLocked();
  }

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (out_.empty() || finished_) return;
    write_buf_ = std::move(out_.front());
    out_.pop_front();
    current_is_last_ = write_buf_.has_ack() || write_buf_.has_retry_window();
    writing_ = true;
    StartWrite(&write_buf_);
  }

  // Ends the stream with `status` once no write is in flight.
  void FinishWith(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    out_.clear();
    if (writing_) {
      pending_finish_ = status;
      return;
    }
    Finish(status);
  }

  void HandleCheckIn() {
    if (!in_.has_check_in()) {
      FinishWith(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "the first message on Participate must be CheckIn"));
      return;
    }
    const std::string device =
        cert_name_.empty() ? in_.check_in().device_id() : cert_name_;
    if (!ValidDeviceId(device)) {
      FinishWith(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "device_id must be 1-128 characters of [A-Za-z0-9._-], starting "
          "with a letter or digit"));
      return;
    }
    const std::string& population = in_.check_in().population();
    if (!population.empty() && population != engine_->task()) {
      FinishWith(grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("this coordinator serves population '", engine_->task(),
                       "', not '", population, "'")));
      return;
    }
    device_ = device;
    CheckInOutcome outcome = engine_->CheckIn(device_);
    ServerMessage out;
    if (auto* retry = std::get_if<cohort::v1::RetryWindow>(&outcome)) {
      *out.mutable_retry_window() = std::move(*retry);
      Enqueue(std::move(out));
      return;
    }
    *out.mutable_task_assignment() =
        std::move(std::get<cohort::v1::TaskAssignment>(outcome));
    round_id_ = out.task_assignment().round_id();
    {
      absl::MutexLock lock(&mu_);
      assigned_ = true;
    }
    Enqueue(std::move(out));
    StartRead(&in_);
  }

  void HandleReport() {
    auto ack = engine_->SubmitReport(device_, in_.report());
    {
      absl::MutexLock lock(&mu_);
      assigned_ = false;  // the engine has seen this device's answer
    }
    if (!ack.ok()) {
      FinishWith(ToGrpc(ack.status()));
      return;
    }
    ServerMessage out;
    *out.mutable_ack() = *std::move(ack);
    Enqueue(std::move(out));
  }

  void HandleSecAgg() {
    auto ack = engine_->SubmitSecAgg(device_, round_id_, in_.secagg(), channel_);
    if (!ack.ok()) {
      DropIfAssigned();
      FinishWith(ToGrpc(ack.status()));
      return;
    }
    if (ack->has_value()) {
      ServerMessage out;
      *out.mutable_ack() = **std::move(ack);
      Enqueue(std::move(out));
      return;
    }
    StartRead(&in_);
  }

  // The stream ends while the device still holds an unanswered assignment.
  void DropIfAssigned() {
    bool assigned;
    {
      absl::MutexLock lock(&mu_);
      assigned = assigned_;
      assigned_ = false;
    }
    if (assigned) engine_->Drop(device_, round_id_);
  }

  RoundEngine* const engine_;
  const std::string cert_name_;
  const std::shared_ptr<StreamChannel> channel_;
  // Touched only by the serialized read callbacks.
  std::string device_;
  int64_t round_id_ = 0;
  ClientMessage in_;

  absl::Mutex mu_;
  bool assigned_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<ServerMessage> out_ ABSL_GUARDED_BY(mu_);
  ServerMessage write_buf_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool current_is_last_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

void StreamChannel::Send(ServerMessage message) {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->Enqueue(std::move(message));
}

}  // namespace

grpc::ServerBidiReactor<ClientMessage, ServerMessage>* NewParticipateReactor(
    RoundEngine* engine, std::string cert_name) {
  return new ParticipateReactor(engine, std::move(cert_name));
}

}  // namespace cohort::server
