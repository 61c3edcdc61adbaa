#include "client/agent/agent.h"

#include <algorithm>
#include <functional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr int64_t kMaxModelBytes = int64_t{256} << 20;
constexpr int kDownloadAttempts = 5;

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

bool IsTlsTrustFailure(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  std::string m = absl::AsciiStrToLower(status.error_message());
  return absl::StrContains(m, "certificate_verify_failed") ||
         absl::StrContains(m, "certificate verify failed") ||
         absl::StrContains(m, "handshake failed");
}

Agent::Agent(const cohort::v1::AgentConfig& config,
             std::unique_ptr<cohort::v1::Coordinator::StubInterface> stub,
             LocalTrainer* trainer, absl::Notification* stop)
    : config_(config),
      stub_(std::move(stub)),
      trainer_(trainer),
      stop_(stop),
      random_(std::hash<std::string>()(config.device_id()) ^
              static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()))) {}

std::unique_ptr<grpc::ClientContext> Agent::NewContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  absl::MutexLock lock(&mu_);
  active_ = ctx.get();
  if (stop_->HasBeenNotified()) ctx->TryCancel();
  return ctx;
}

void Agent::ReleaseContext() {
  absl::MutexLock lock(&mu_);
  active_ = nullptr;
}

void Agent::Cancel() {
  absl::MutexLock lock(&mu_);
  if (active_ != nullptr) active_->TryCancel();
}

bool Agent::Wait(absl::Duration d) {
  return !stop_->WaitForNotificationWithTimeout(d);
}

absl::Duration Agent::NextBackoff() {
  const int64_t initial =
      config_.backoff_initial_ms() > 0 ? config_.backoff_initial_ms() : 500;
  const int64_t max =
      config_.backoff_max_ms() > 0 ? config_.backoff_max_ms() : 30000;
  int64_t cap = initial << std::min(backoff_attempt_, 20);
  cap = std::min(cap, max);
  ++backoff_attempt_;
  // Full jitter spreads a fleet that lost the server at the same moment.
  return absl::Milliseconds(random_.UniformInRange(cap / 2, cap));
}

absl::Status Agent::Run() {
  while (!stop_->HasBeenNotified()) {
    auto delay = ParticipateOnce();
    if (stop_->HasBeenNotified()) break;
    if (delay.ok()) {
      backoff_attempt_ = 0;
      if (config_.max_rounds() > 0 && rounds_reported_ >= config_.max_rounds()) {
        LOG(INFO) << "reported " << rounds_reported_ << " rounds; leaving";
        return absl::OkStatus();
      }
      Wait(*delay);
      continue;
    }
    if (delay.status().code() == absl::StatusCode::kUnauthenticated ||
        delay.status().code() == absl::StatusCode::kFailedPrecondition) {
      return delay.status();
    }
    absl::Duration backoff = NextBackoff();
    LOG(WARNING) << delay.status() << "; retrying in " << backoff;
    Wait(backoff);
  }
  LOG(INFO) << "stopped cleanly after " << rounds_reported_ << " rounds";
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> Agent::ParticipateOnce() {
  auto ctx = NewContext();
  auto stream = stub_->Participate(ctx.get());
  cohort::v1::ClientMessage hello;
  auto* check_in = hello.mutable_check_in();
  check_in->set_device_id(config_.device_id());
  check_in->set_population(config_.population());
  check_in->mutable_capabilities()->set_cpu_cores(
      static_cast<int32_t>(std::thread::hardware_concurrency()));
  check_in->set_cached_model_version(cached_version_);

  absl::StatusOr<absl::Duration> result = absl::ZeroDuration();
  bool assigned = false;
  cohort::v1::ServerMessage reply;
  if (!stream->Write(hello) || !stream->Read(&reply)) {
    result = absl::UnavailableError("stream closed during check-in");
  } else if (reply.has_retry_window()) {
    const auto& w = reply.retry_window();
    int64_t lo = std::max<int64_t>(0, w.min_delay_ms());
    int64_t hi = std::max<int64_t>(lo, w.max_delay_ms());
    VLOG(1) << "retry window: " << w.reason();
    result = absl::Milliseconds(random_.UniformInRange(lo, hi));
  } else if (reply.has_task_assignment()) {
    assigned = true;
    result = DoAssignment(stream.get(), reply.task_assignment());
  } else {
    result = absl::InternalError("server sent neither assignment nor retry");
  }
  stream->WritesDone();
  grpc::Status finish = stream->Finish();
  ReleaseContext();
  if (IsTlsTrustFailure(finish)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "TLS handshake with ", config_.server_address(),
        " failed: the server's certificate is not trusted by ca_cert ",
        config_.tls().ca_cert_path(), " (", finish.error_message(), ")"));
  }
  if (finish.ok()) return result;
  absl::Status server = FromGrpc(finish, "server");
  if (!assigned && (server.code() == absl::StatusCode::kFailedPrecondition ||
                    server.code() == absl::StatusCode::kInvalidArgument)) {
    // The server refuses this device as configured; retrying cannot help.
    return absl::FailedPreconditionError(absl::StrCat(
        "check-in refused: ", finish.error_message()));
  }
  if (assigned && server.code() == absl::StatusCode::kFailedPrecondition) {
    // The round moved on (closed, or this device was dropped): check in again.
    return absl::AbortedError(server.message());
  }
  if (!result.ok()) {
    return absl::Status(server.code(),
                        absl::StrCat(result.status().message(), " (",
                                     server.message(), ")"));
  }
  return server;
}

absl::StatusOr<absl::Duration> Agent::DoAssignment(
    grpc::ClientReaderWriterInterface<cohort::v1::ClientMessage,
                                      cohort::v1::ServerMessage>* stream,
    const cohort::v1::TaskAssignment& assignment) {
  const int64_t round = assignment.round_id();
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights start,
                          GetModel(assignment.model(), assignment.task()));
  const uint64_t seed = std::hash<std::string>()(config_.device_id()) ^
                        static_cast<uint64_t>(round);
  absl::Time t0 = absl::Now();
  COHORT_ASSIGN_OR_RETURN(
      LocalUpdate update,
      trainer_->Train(assignment.model().architecture(), start,
                      assignment.plan(), seed));
  if (stop_->HasBeenNotified()) return absl::CancelledError("stopping");
  cohort::v1::ClientMessage msg;
  auto* report = msg.mutable_report();
  report->set_round_id(round);
  *report->mutable_delta() = std::move(update.delta);
  report->set_num_examples(update.num_examples);
  report->set_train_loss(update.train_loss);
  cohort::v1::ServerMessage reply;
  if (!stream->Write(msg) || !stream->Read(&reply) || !reply.has_ack()) {
    return absl::UnavailableError(
        absl::StrCat("round ", round, ": no acknowledgement for the report"));
  }
  LOG(INFO) << "round " << round << ": trained on " << update.num_examples
            << " examples in " << absl::Now() - t0 << ", loss "
            << update.train_loss
            << (reply.ack().accepted() ? ", report accepted"
                                       : ", report not used: ")
            << reply.ack().message();
  if (reply.ack().accepted()) ++rounds_reported_;
  return absl::ZeroDuration();
}

absl::StatusOr<cohort::v1::Weights> Agent::GetModel(
    const cohort::v1::ModelRef& ref, const std::string& task) {
  if (ref.version() == cached_version_ && cached_version_ != 0) {
    return cached_weights_;
  }
  const std::string dir =
      config_.state_dir().empty() ? "cohort-agent-state" : config_.state_dir();
  const std::string path = absl::StrCat(dir, "/model.pb");
  std::string bytes;
  auto cached = base::ReadFile(path, kMaxModelBytes);
  if (cached.ok() && crypto::Sha256Hex(*cached) == ref.sha256()) {
    bytes = std::move(*cached);
  } else {
    COHORT_ASSIGN_OR_RETURN(bytes, Download(ref, task));
    COHORT_RETURN_IF_ERROR(base::MakeDirs(dir));
    COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(path, bytes));
  }
  cohort::v1::Weights weights;
  if (!weights.ParseFromString(bytes)) {
    return absl::DataLossError("model bytes do not parse as Weights");
  }
  cached_version_ = ref.version();
  cached_weights_ = weights;
  return weights;
}

absl::StatusOr<std::string> Agent::Download(const cohort::v1::ModelRef& ref,
                                            const std::string& task) {
  if (ref.size_bytes() < 0 || ref.size_bytes() > kMaxModelBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("model of ", ref.size_bytes(), " bytes is over the limit"));
  }
  std::string bytes;
  bytes.reserve(static_cast<size_t>(ref.size_bytes()));
  grpc::Status last;
  for (int attempt = 0; attempt < kDownloadAttempts; ++attempt) {
    cohort::v1::FetchModelRequest request;
    request.set_task(task);
    request.set_version(ref.version());
    request.set_offset(static_cast<int64_t>(bytes.size()));
    auto ctx = NewContext();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    auto reader = stub_->FetchModel(ctx.get(), request);
    cohort::v1::ModelChunk chunk;
    bool bad = false;
    while (reader->Read(&chunk)) {
      if (chunk.offset() != static_cast<int64_t>(bytes.size()) ||
          chunk.total_size() != ref.size_bytes() ||
          static_cast<int64_t>(bytes.size() + chunk.data().size()) >
              ref.size_bytes()) {
        bad = true;
        ctx->TryCancel();
        break;
      }
      bytes.append(chunk.data());
    }
    last = reader->Finish();
    ReleaseContext();
    if (bad) return absl::DataLossError("model stream is inconsistent");
    if (last.ok() || static_cast<int64_t>(bytes.size()) == ref.size_bytes()) {
      break;
    }
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE ||
        stop_->HasBeenNotified()) {
      return FromGrpc(last, "FetchModel");
    }
    LOG(WARNING) << "download interrupted at byte " << bytes.size()
                 << "; resuming";
  }
  if (static_cast<int64_t>(bytes.size()) != ref.size_bytes()) {
    return FromGrpc(last, "FetchModel incomplete");
  }
  if (crypto::Sha256Hex(bytes) != ref.sha256()) {
    return absl::DataLossError(absl::StrCat(
        "model version ", ref.version(), " failed its SHA-256 check"));
  }
  return bytes;
}

}  // namespace cohort::client
