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
  Stream(const LoadOptions& options, std::shared_ptr<Shared> shared,
         const std::string& device_id)
      : shared_(std::move(shared)),
        stub_(cohort::v1::Coordinator::NewStub(OwnConnection(options))) {
    hello_.mutable_check_in()->set_device_id(device_id);
    hello_.mutable_check_in()->set_population(options.population);
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
      shared_->Answered(assigned_);
    }
    if (assigned_) StartRead(&answer_);
  }

  void OnDone(const grpc::Status& status) override {
    shared_->Done(answered_, assigned_, status);
  }

 private:
  const std::shared_ptr<Shared> shared_;
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
  absl::MutexLock lock(&shared_->mu);
  if (shared_->done < static_cast<int>(streams_.size())) {
    // A stream gRPC has not ended must outlive its callbacks: leak them
    // (they keep shared_ alive).
    for (auto& s : streams_) s.release();
  }
}

void HeldStreams::Open() {
  Shared& sh = *shared_;
  const absl::Time deadline = absl::Now() + options_.ramp_timeout;
  streams_.reserve(options_.held_streams);
  for (int i = 0; i < options_.held_streams; ++i) {
    {
      absl::MutexLock lock(&sh.mu);
      auto room = [&]() ABSL_SHARED_LOCKS_REQUIRED(sh.mu) {
        return sh.pending < options_.ramp;
      };
      if (!sh.mu.AwaitWithDeadline(absl::Condition(&room), deadline)) break;
      ++sh.pending;
    }
    streams_.push_back(std::make_unique<Stream>(
        options_, shared_, absl::StrCat(options_.device_prefix, "-held-", i)));
    streams_.back()->Start();
  }
  absl::MutexLock lock(&sh.mu);
  auto settled = [&]() ABSL_SHARED_LOCKS_REQUIRED(sh.mu) {
    return sh.pending == 0;
  };
  if (!sh.mu.AwaitWithDeadline(absl::Condition(&settled), deadline)) {
    sh.timed_out = true;
  }
}

void HeldStreams::Release() {
  Shared& sh = *shared_;
  {
    absl::MutexLock lock(&sh.mu);
    if (sh.released) return;
    sh.released = true;
  }
  for (auto& s : streams_) s->Cancel();
  absl::MutexLock lock(&sh.mu);
  const int started = static_cast<int>(streams_.size());
  auto all_done = [&]() ABSL_SHARED_LOCKS_REQUIRED(sh.mu) {
    return sh.done == started;
  };
  sh.mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Minutes(1));
}

void HeldStreams::Tally(LoadResult* result) {
  Shared& sh = *shared_;
  absl::MutexLock lock(&sh.mu);
  result->held_requested = options_.held_streams;
  result->held_assigned = sh.assigned;
  result->held_retried = sh.retried;
  result->held_ended_early = sh.ended_early;
  // Not started, or unanswered at the ramp's deadline, or ended unanswered.
  result->held_failed = options_.held_streams - sh.assigned - sh.retried;
  result->first_error = sh.first_error;
  if (result->first_error.empty() && sh.timed_out) {
    result->first_error = "ramp timeout: some held streams had no answer";
  }
}

void HeldStreams::Shared::Answered(bool was_assigned) {
  absl::MutexLock lock(&mu);
  --pending;
  ++(was_assigned ? assigned : retried);
}

void HeldStreams::Shared::Done(bool answered, bool was_assigned,
                               const grpc::Status& status) {
  absl::MutexLock lock(&mu);
  ++done;
  if (!answered) {
    --pending;
  } else if (was_assigned && !released) {
    ++ended_early;
  }
  if ((!answered || (was_assigned && !released)) && first_error.empty()) {
    first_error = absl::StrCat("held stream ended: ", status.error_code(), " ",
                               status.error_message());
  }
}

}  // namespace cohort::bench
