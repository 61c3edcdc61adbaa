#include "bench/load/held_streams.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"

namespace cohort::bench {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;

std::shared_ptr<grpc::Channel> OwnConnection(const LoadOptions& options) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.ca_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(options.server_name);
  // Channels with equal arguments would share one connection otherwise.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(options.target, grpc::SslCredentials(ssl),
                                   args);
}

// One fake device's Participate stream: CheckIn, the answer, then (after a
// TaskAssignment) a read that the coordinator never completes while the
// device "trains". The owner deletes it after OnDone.
class HeldStreams::Stream final
    : public grpc::ClientBidiReactor<ClientMessage, ServerMessage> {
 public:
  Stream(HeldStreams* owner, const std::string& device_id)
      : owner_(owner),
        stub_(cohort::v1::Coordinator::NewStub(OwnConnection(owner->options_))) {
    hello_.mutable_check_in()->set_device_id(device_id);
    hello_.mutable_check_in()->set_population(owner->options_.population);
  }

  void Start() {
    stub_->async()->Participate(&ctx_, this);
    StartWrite(&hello_);
    StartRead(&answer_);
    StartCall();
  }

  void Cancel() { ctx_.TryCancel(); }

  void OnWriteDone(bool ok) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone reports why
    if (!answered_) {
      answered_ = true;
      assigned_ = answer_.has_task_assignment();
      owner_->Answered(assigned_);
    }
    if (assigned_) StartRead(&answer_);
  }

  void OnDone(const grpc::Status& status) override {
    owner_->Done(answered_, assigned_, status);
  }

 private:
  HeldStreams* const owner_;
  std::unique_ptr<cohort::v1::Coordinator::Stub> stub_;
  grpc::ClientContext ctx_;
  ClientMessage hello_;
  ServerMessage answer_;
  // Touched only by the serialized read callbacks and, after them, OnDone.
  bool answered_ = false;
  bool assigned_ = false;
};

HeldStreams::HeldStreams(const LoadOptions& options) : options_(options) {}

HeldStreams::~HeldStreams() {
  Release();
  absl::MutexLock lock(&mu_);
  const int started = static_cast<int>(streams_.size());
  if (done_ < started) {
    // A stream gRPC never ended must outlive its callbacks: leak them all.
    for (auto& s : streams_) s.release();
  }
}

void HeldStreams::Open() {
  const absl::Time deadline = absl::Now() + options_.ramp_timeout;
  streams_.reserve(options_.held_streams);
  for (int i = 0; i < options_.held_streams; ++i) {
    {
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return pending_ < options_.ramp;
      };
      if (!mu_.AwaitWithDeadline(absl::Condition(&room), deadline)) break;
      ++pending_;
    }
    streams_.push_back(std::make_unique<Stream>(
        this, absl::StrCat(options_.device_prefix, "-held-", i)));
    streams_.back()->Start();
  }
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return pending_ == 0;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&settled), deadline)) {
    timed_out_ = true;
  }
}

void HeldStreams::Release() {
  {
    absl::MutexLock lock(&mu_);
    if (released_) return;
    released_ = true;
  }
  for (auto& s : streams_) s->Cancel();
  absl::MutexLock lock(&mu_);
  const int started = static_cast<int>(streams_.size());
  auto all_done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return done_ == started;
  };
  mu_.AwaitWithTimeout(absl::Condition(&all_done), absl::Minutes(1));
}

void HeldStreams::Tally(LoadResult* result) {
  absl::MutexLock lock(&mu_);
  result->held_requested = options_.held_streams;
  result->held_assigned = assigned_;
  result->held_retried = retried_;
  result->held_ended_early = ended_early_;
  // Not started, or unanswered at the ramp's deadline, or ended unanswered.
  result->held_failed = options_.held_streams - assigned_ - retried_;
  result->first_error = first_error_;
  if (result->first_error.empty() && timed_out_) {
    result->first_error = "ramp timeout: some held streams had no answer";
  }
}

void HeldStreams::Answered(bool assigned) {
  absl::MutexLock lock(&mu_);
  --pending_;
  ++(assigned ? assigned_ : retried_);
}

void HeldStreams::Done(bool answered, bool assigned, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  ++done_;
  if (!answered) {
    --pending_;
  } else if (assigned && !released_) {
    ++ended_early_;
  }
  if ((!answered || (assigned && !released_)) && first_error_.empty()) {
    first_error_ = absl::StrCat("held stream ended: ", status.error_code(), " ",
                                status.error_message());
  }
}

}  // namespace cohort::bench
