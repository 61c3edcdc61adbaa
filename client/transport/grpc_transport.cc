#include "client/transport/grpc_transport.h"

#include "client/transport/chunk_assembler.h"
#include "client/transport/tls_probe.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/model/delta.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace cohort::client {
namespace {

constexpr int kDownloadAttempts = 5;

using Stream = grpc::ClientReaderWriterInterface<cohort::v1::ClientMessage,
                                                 cohort::v1::ServerMessage>;

class GrpcSession final : public ParticipationSession {
 public:
  explicit GrpcSession(GrpcTransport* transport) : transport_(transport) {
    transport_->Track(&ctx_);
    stream_ = transport_->stub()->Participate(&ctx_);
  }
  ~GrpcSession() override {
    Close();
    transport_->Untrack(&ctx_);
  }

  absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
      const cohort::v1::CheckIn& check_in) override {
    cohort::v1::ClientMessage msg;
    *msg.mutable_check_in() = check_in;
    return Exchange(msg, "check-in");
  }

  absl::StatusOr<cohort::v1::Ack> Report(
      const cohort::v1::Report& report) override {
    cohort::v1::ClientMessage msg;
    *msg.mutable_report() = report;
    auto reply = Exchange(msg, "report");
    if (!reply.ok()) return reply.status();
    if (!reply->has_ack()) {
      return absl::InternalError("server answered a report without an Ack");
    }
    return reply->ack();
  }

  absl::Status Send(const cohort::v1::ClientMessage& message) override {
    if (finished_) return absl::FailedPreconditionError("session is closed");
    if (stream_->Write(message)) return absl::OkStatus();
    return Ended("a SecAgg send");
  }

  absl::StatusOr<cohort::v1::ServerMessage> Receive() override {
    if (finished_) return absl::FailedPreconditionError("session is closed");
    cohort::v1::ServerMessage reply;
    if (stream_->Read(&reply)) return reply;
    return Ended("a SecAgg receive");
  }

  void Close() override {
    if (finished_) return;
    stream_->WritesDone();
    // Finish waits for every incoming message to be read; the server ends
    // the stream once it sees the half-close.
    cohort::v1::ServerMessage unread;
    while (stream_->Read(&unread)) {
    }
    Finish();
  }

 private:
  absl::StatusOr<cohort::v1::ServerMessage> Exchange(
      const cohort::v1::ClientMessage& msg, const char* what) {
    if (finished_) return absl::FailedPreconditionError("session is closed");
    cohort::v1::ServerMessage reply;
    if (stream_->Write(msg) && stream_->Read(&reply)) return reply;
    return Ended(what);
  }

  // The stream broke or the server ended it: its status, as absl.
  absl::Status Ended(const char* what) {
    grpc::Status s = Finish();
    if (s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("stream closed during ", what));
    }
    return transport_->FromGrpc(s, what);
  }

  grpc::Status Finish() {
    finished_ = true;
    status_ = stream_->Finish();
    return status_;
  }

  GrpcTransport* const transport_;
  grpc::ClientContext ctx_;
  std::unique_ptr<Stream> stream_;
  bool finished_ = false;
  grpc::Status status_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeTlsChannel(
    const std::string& address, const cohort::v1::TlsConfig& tls,
    const std::string& server_name, absl::Duration keepalive) {
  grpc::SslCredentialsOptions ssl;
  COHORT_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                          base::ReadFile(tls.ca_cert_path(), 1 << 20));
  if (!tls.cert_path().empty()) {
    COHORT_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                            base::ReadFile(tls.cert_path(), 1 << 20));
    COHORT_ASSIGN_OR_RETURN(ssl.pem_private_key,
                            base::ReadFile(tls.key_path(), 1 << 20));
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(server_name);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // Pings keep the stream open through NATs and proxies with an idle timeout
  // while the device trains; without data they would stop after two.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(keepalive)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

absl::StatusOr<std::unique_ptr<GrpcTransport>> GrpcTransport::Connect(
    const std::string& address, const cohort::v1::TlsConfig& tls,
    const std::string& server_name, absl::Duration keepalive) {
  COHORT_ASSIGN_OR_RETURN(auto channel,
                          MakeTlsChannel(address, tls, server_name, keepalive));
  auto transport = std::make_unique<GrpcTransport>(
      cohort::v1::Coordinator::NewStub(channel), address, tls, server_name);
  transport->keepalive_ = keepalive;
  return transport;
}

absl::StatusOr<cohort::v1::DeviceCertificate> GrpcTransport::RenewCertificate(
    const std::string& csr_pem) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRenewTimeout));
  cohort::v1::RenewCertificateRequest request;
  request.set_csr_pem(csr_pem);
  cohort::v1::DeviceCertificate response;
  Track(&context);
  const grpc::Status s = stub_->RenewCertificate(&context, request, &response);
  Untrack(&context);
  if (!s.ok()) return FromGrpc(s, "RenewCertificate");
  return response;
}

absl::Status GrpcTransport::ReloadIdentity() {
  COHORT_ASSIGN_OR_RETURN(
      auto channel,
      MakeTlsChannel(server_address_, tls_, server_name_, keepalive_));
  stub_ = cohort::v1::Coordinator::NewStub(channel);
  return absl::OkStatus();
}

bool IsTlsTrustFailure(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  std::string m = absl::AsciiStrToLower(status.error_message());
  return absl::StrContains(m, "certificate_verify_failed") ||
         absl::StrContains(m, "certificate verify failed") ||
         absl::StrContains(m, "handshake failed");
}

GrpcTransport::GrpcTransport(
    std::unique_ptr<cohort::v1::Coordinator::StubInterface> stub,
    std::string server_address, cohort::v1::TlsConfig tls,
    std::string server_name)
    : stub_(std::move(stub)),
      server_address_(std::move(server_address)),
      tls_(std::move(tls)),
      server_name_(std::move(server_name)) {}

absl::Status GrpcTransport::Diagnose() {
  absl::Status cause =
      ProbeTls(server_address_, tls_, server_name_, absl::Seconds(5));
  const bool local = cause.code() == absl::StatusCode::kUnauthenticated ||
                     cause.code() == absl::StatusCode::kInvalidArgument;
  return local ? cause : absl::OkStatus();
}

std::unique_ptr<ParticipationSession> GrpcTransport::OpenSession() {
  return std::make_unique<GrpcSession>(this);
}

void GrpcTransport::Track(grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);
  active_.insert(ctx);
  if (cancelled_) ctx->TryCancel();
}

void GrpcTransport::Untrack(grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);
  active_.erase(ctx);
}

void GrpcTransport::CancelAll() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::ClientContext* ctx : active_) ctx->TryCancel();
}

absl::Status GrpcTransport::FromGrpc(const grpc::Status& s,
                                     const std::string& what) const {
  if (IsTlsTrustFailure(s)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "TLS handshake with ", server_address_,
        " failed: the server's certificate is not trusted by ca_cert ",
        tls_.ca_cert_path(), " (", s.error_message(), ")"));
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

absl::StatusOr<std::string> GrpcTransport::FetchModel(
    const cohort::v1::ModelRef& ref, const std::string& task) {
  return FetchModelFrom(ref, task, ModelBase{});
}

absl::StatusOr<std::string> GrpcTransport::FetchModelFrom(
    const cohort::v1::ModelRef& ref, const std::string& task,
    const ModelBase& base) {
  if (ref.size_bytes() < 0 || ref.size_bytes() > kMaxModelBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "model of ", ref.size_bytes(), " bytes is over the limit"));
  }
  int64_t received = 0;
  bool delta = false;
  if (base.version > 0 && base.version != ref.version() &&
      !base.bytes.empty()) {
    auto rebuilt = FetchThroughDelta(ref, task, base, &received, &delta);
    if (rebuilt.status().code() != absl::StatusCode::kDataLoss) {
      Record(ref, rebuilt.ok(), delta, received);
      return rebuilt;
    }
    LOG(WARNING) << "model version " << ref.version() << ": "
                 << rebuilt.status().message()
                 << "; downloading the full artifact";
  }
  auto full = Download(ref, task, 0, &received);
  Record(ref, full.ok(), false, received);
  if (!full.ok()) return full.status();
  return std::move(full->bytes);
}

absl::StatusOr<std::string> GrpcTransport::FetchThroughDelta(
    const cohort::v1::ModelRef& ref, const std::string& task,
    const ModelBase& base, int64_t* received, bool* delta) {
  COHORT_ASSIGN_OR_RETURN(Received got,
                          Download(ref, task, base.version, received));
  if (!got.delta) return std::move(got.bytes);
  absl::StatusOr<std::string> rebuilt =
      model::ApplyDelta(base.bytes, got.bytes, ref.size_bytes());
  if (!rebuilt.ok()) {
    return absl::DataLossError(
        absl::StrCat("the delta from version ", base.version,
                     " does not apply: ", rebuilt.status().ToString()));
  }
  if (static_cast<int64_t>(rebuilt->size()) != ref.size_bytes()) {
    return absl::DataLossError(
        absl::StrCat("the delta from version ", base.version, " rebuilt ",
                     rebuilt->size(), " bytes, not ", ref.size_bytes()));
  }
  *delta = true;
  return rebuilt;
}

absl::StatusOr<GrpcTransport::Received> GrpcTransport::Download(
    const cohort::v1::ModelRef& ref, const std::string& task,
    int64_t base_version, int64_t* received) {
  ChunkAssembler assembler(ref, base_version);
  grpc::Status last;
  for (int attempt = 0; attempt < kDownloadAttempts; ++attempt) {
    cohort::v1::FetchModelRequest request;
    request.set_task(task);
    request.set_version(ref.version());
    request.set_offset(assembler.size());
    request.set_base_version(base_version);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::minutes(5));
    Track(&ctx);
    auto reader = stub_->FetchModel(&ctx, request);
    cohort::v1::ModelChunk chunk;
    absl::Status bad;
    while (bad.ok() && reader->Read(&chunk)) {
      *received += static_cast<int64_t>(chunk.data().size());
      bad = assembler.Add(chunk);
      if (!bad.ok()) ctx.TryCancel();
    }
    last = reader->Finish();
    Untrack(&ctx);
    if (!bad.ok()) return bad;
    if (assembler.complete()) {
      const bool delta = assembler.delta();
      return Received{assembler.Take(), delta};
    }
    if (last.ok()) return absl::DataLossError("model stream ended early");
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return FromGrpc(last, "FetchModel");
    }
    LOG(WARNING) << "download interrupted at byte " << assembler.size()
                 << "; resuming";
  }
  return FromGrpc(last, "FetchModel incomplete");
}

void GrpcTransport::Record(const cohort::v1::ModelRef& ref, bool ok, bool delta,
                           int64_t received) {
  DownloadStats total;
  {
    absl::MutexLock lock(&mu_);
    stats_.bytes_received += received;
    if (ok) {
      ++stats_.downloads;
      if (delta) ++stats_.delta_downloads;
      stats_.artifact_bytes += ref.size_bytes();
    }
    total = stats_;
  }
  if (!ok) return;
  // One line per delta (an agent's round); the simulator's gRPC mode makes
  // full downloads by the hundred.
  LOG_IF(INFO, delta) << "model version " << ref.version()
                      << " rebuilt from a delta: " << received
                      << " bytes received for a " << ref.size_bytes()
                      << "-byte artifact; so far " << total.bytes_received
                      << " for " << total.artifact_bytes << " ("
                      << total.delta_downloads << " of " << total.downloads
                      << " downloads as deltas)";
  VLOG_IF(1, !delta) << "model version " << ref.version() << ": " << received
                     << " bytes received for a " << ref.size_bytes()
                     << "-byte artifact";
}

DownloadStats GrpcTransport::download_stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace cohort::client
