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

// What a stream's deadline waits for. Armed with its alarm; the read that
// ends the wait and the alarm race to take it, and kExpired marks a stream
// the alarm ended.
enum class Awaited { kNothing, kCheckIn, kReport, kExpired };

// What the engine holds to push messages onto this stream. It outlives the
// reactor; once the reactor is gone, sends are dropped.
class StreamChannel final : public DeviceChannel {
 public:
  explicit StreamChannel(ParticipateReactor* reactor) : reactor_(reactor) {}
  void Send(ServerMessage message) override;
  // The deadline for `awaited` passed (an alarm's callback, any thread).
  void Expire(Awaited awaited);
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
                     StreamDeadlines deadlines, const Leadership* leadership)
      : session_(engine, live, std::move(cert_name), counters, leadership),
        counters_(counters),
        deadlines_(deadlines),
        channel_(std::make_shared<StreamChannel>(this)) {
    if (deadlines_.check_in > absl::ZeroDuration()) {
      Arm(&check_in_alarm_, absl::Now() + deadlines_.check_in,
          Awaited::kCheckIn);
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!Disarm()) return;  // a deadline ended the stream first
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
      FinishWith(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
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

  // The alarm of the deadline for `awaited` fired: ends the stream unless
  // that message arrived meanwhile (or a later deadline took its place).
  // The pending read then fails and ends the session (dropping an assigned
  // device) on gRPC's thread.
  void Expire(Awaited awaited) {
    Awaited expected = awaited;
    if (!awaited_.compare_exchange_strong(expected, Awaited::kExpired)) return;
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
                 : absl::StrCat(
                       "no report within ",
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
      FinishWith(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
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
      Arm(&report_alarm_,
          absl::FromUnixMillis(deadline_ms) + deadlines_.after_report_deadline,
          Awaited::kReport);
    }
    Enqueue(std::move(out));
    StartRead(&in_);
  }

  // The alarm's callback holds the channel, not the reactor, so it is safe
  // after the reactor is gone (Detach) and never runs Expire then. It names
  // the deadline it guards, so a late check-in alarm cannot end the wait
  // for the report.
  void Arm(grpc::Alarm* alarm, absl::Time when, Awaited awaited) {
    awaited_ = awaited;
    alarm->Set(absl::ToChronoTime(when),
               [channel = channel_, awaited](bool fired) {
                 if (fired) channel->Expire(awaited);
               });
  }

  // A message arrived (or the stream ended): the pending deadline, if any,
  // is over. False if a deadline expired first: the stream is finished and
  // the message must not be handled.
  bool Disarm() {
    const Awaited awaited = awaited_.exchange(Awaited::kNothing);
    if (awaited == Awaited::kExpired) {
      awaited_ = Awaited::kExpired;
      return false;
    }
    if (awaited == Awaited::kCheckIn) check_in_alarm_.Cancel();
    if (awaited == Awaited::kReport) report_alarm_.Cancel();
    return true;
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

class RefusedReactor final
    : public grpc::ServerBidiReactor<ClientMessage, ServerMessage> {
 public:
  explicit RefusedReactor(const grpc::Status& refused) { Finish(refused); }
  void OnDone() override { delete this; }
};

void StreamChannel::Send(ServerMessage message) {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->Enqueue(std::move(message));
}

void StreamChannel::Expire(Awaited awaited) {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->Expire(awaited);
}

}  // namespace

grpc::ServerBidiReactor<ClientMessage, ServerMessage>* NewParticipateReactor(
    RoundEngine* engine, LiveDevices* live, std::string cert_name,
    DeviceApiCounters* counters, StreamDeadlines deadlines,
    const Leadership* leadership) {
  return new ParticipateReactor(engine, live, std::move(cert_name), counters,
                                deadlines, leadership);
}

grpc::ServerBidiReactor<ClientMessage, ServerMessage>*
NewRefusedParticipateReactor(const grpc::Status& refused) {
  return new RefusedReactor(refused);
}

}  // namespace cohort::server
