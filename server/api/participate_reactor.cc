#include "server/api/participate_reactor.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "grpcpp/alarm.h"
#include "server/api/grpc_util.h"
#include "server/round/device_session.h"

namespace cohort::server {
namespace {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;

class ParticipateReactor;

// What the engine holds to push messages onto this stream. It outlives the
// reactor; once the reactor is gone, sends are dropped.
class StreamChannel final : public DeviceChannel {
 public:
  explicit StreamChannel(ParticipateReactor* reactor) : reactor_(reactor) {}
  void Send(ServerMessage message) override;
  // A deadline passed (an alarm's callback, any thread).
  void Expire();
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
  ParticipateReactor(RoundEngine* engine, LiveDevices* live,
                     std::string cert_name, DeviceApiCounters* counters,
                     StreamDeadlines deadlines)
      : session_(engine, live, std::move(cert_name), counters),
        counters_(counters),
        deadlines_(deadlines),
        channel_(std::make_shared<StreamChannel>(this)) {
    if (deadlines_.check_in > absl::ZeroDuration()) {
      awaited_ = Awaited::kCheckIn;
      Arm(&check_in_alarm_, absl::Now() + deadlines_.check_in);
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    Disarm();
    if (!ok) {
      // The device went away (or sent an oversized message, which gRPC has
      // already failed with RESOURCE_EXHAUSTED).
      session_.End();
      FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "stream ended"));
      return;
    }
    CountBytes("in", in_);
    if (session_.device().empty()) {
      HandleCheckIn();
    } else if (in_.has_report()) {
      HandleReport();
    } else if (in_.has_secagg()) {
      HandleSecAgg();
    } else {
      session_.End();
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
    session_.End();
    FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
  }

  // A deadline's alarm fired: ends the stream unless what it waited for has
  // arrived meanwhile. The pending read then fails and ends the session
  // (dropping an assigned device) on gRPC's thread.
  void Expire() {
    const Awaited awaited = awaited_.exchange(Awaited::kNothing);
    if (awaited == Awaited::kNothing) return;
    const bool check_in = awaited == Awaited::kCheckIn;
    if (counters_ != nullptr) {
      if (check_in) {
        counters_->CheckIn("timed_out");
      } else {
        counters_->Rejected("report", "timed_out");
      }
    }
    FinishWith(grpc::Status(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        check_in ? absl::StrCat("no CheckIn within ",
                                absl::FormatDuration(deadlines_.check_in))
                 : absl::StrCat("no report within ",
                                absl::FormatDuration(deadlines_.after_report_deadline),
                                " after the round's report deadline")));
  }

  void OnDone() override {
    channel_->Detach();
    session_.End();
    delete this;
  }

  // Queues a message (any thread).
  void Enqueue(ServerMessage message) {
    absl::MutexLock lock(&mu_);
    if (finished_ || closing_) return;
    if (message.has_ack() || message.has_retry_window()) {
      // Nothing more is read from a stream whose answer is final.
      closing_ = true;
      session_.Answered();
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
    CountBytes("out", write_buf_);
    writing_ = true;
    StartWrite(&write_buf_);
  }

  void CountBytes(absl::string_view direction,
                  const google::protobuf::Message& message) {
    if (counters_ == nullptr) return;
    counters_->Bytes("participate", direction,
                     static_cast<int64_t>(message.ByteSizeLong()));
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
    auto outcome = session_.CheckIn(in_.check_in());
    if (!outcome.ok()) {
      FinishWith(ToGrpcStatus(outcome.status()));
      return;
    }
    ServerMessage out;
    if (auto* retry = std::get_if<cohort::v1::RetryWindow>(&*outcome)) {
      *out.mutable_retry_window() = std::move(*retry);
      Enqueue(std::move(out));
      return;
    }
    *out.mutable_task_assignment() =
        std::move(std::get<cohort::v1::TaskAssignment>(*outcome));
    const int64_t deadline_ms = out.task_assignment().report_deadline_unix_ms();
    if (deadlines_.after_report_deadline > absl::ZeroDuration() &&
        deadline_ms > 0) {
      awaited_ = Awaited::kReport;
      Arm(&report_alarm_, absl::FromUnixMillis(deadline_ms) +
                              deadlines_.after_report_deadline);
    }
    Enqueue(std::move(out));
    StartRead(&in_);
  }

  // What a deadline is waiting for. Set before the alarm and the read that
  // can end the wait; whoever exchanges it to kNothing first wins.
  enum class Awaited { kNothing, kCheckIn, kReport };

  // The alarm's callback holds the channel, not the reactor, so it is safe
  // after the reactor is gone (Detach) and never runs Expire then.
  void Arm(grpc::Alarm* alarm, absl::Time when) {
    alarm->Set(absl::ToChronoTime(when),
               [channel = channel_](bool fired) {
                 if (fired) channel->Expire();
               });
  }

  // A message arrived (or the stream ended): no deadline is pending any more.
  void Disarm() {
    const Awaited awaited = awaited_.exchange(Awaited::kNothing);
    if (awaited == Awaited::kCheckIn) check_in_alarm_.Cancel();
    if (awaited == Awaited::kReport) report_alarm_.Cancel();
  }

  void HandleReport() {
    auto ack = session_.Report(in_.report());
    if (!ack.ok()) {
      FinishWith(ToGrpcStatus(ack.status()));
      return;
    }
    ServerMessage out;
    *out.mutable_ack() = *std::move(ack);
    Enqueue(std::move(out));
  }

  void HandleSecAgg() {
    auto ack = session_.SecAgg(in_.secagg(), channel_);
    if (!ack.ok()) {
      FinishWith(ToGrpcStatus(ack.status()));
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

  DeviceSession session_;
  DeviceApiCounters* const counters_;
  const StreamDeadlines deadlines_;
  std::atomic<Awaited> awaited_{Awaited::kNothing};
  grpc::Alarm check_in_alarm_;
  grpc::Alarm report_alarm_;
  const std::shared_ptr<StreamChannel> channel_;
  // Touched only by the serialized read callbacks.
  ClientMessage in_;

  absl::Mutex mu_;
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

void StreamChannel::Expire() {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->Expire();
}

}  // namespace

grpc::ServerBidiReactor<ClientMessage, ServerMessage>* NewParticipateReactor(
    RoundEngine* engine, LiveDevices* live, std::string cert_name,
    DeviceApiCounters* counters, StreamDeadlines deadlines) {
  return new ParticipateReactor(engine, live, std::move(cert_name), counters,
                                deadlines);
}

}  // namespace cohort::server
