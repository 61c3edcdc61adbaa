#ifndef COHORT_CLIENT_TRANSPORT_GRPC_TRANSPORT_H_
#define COHORT_CLIENT_TRANSPORT_GRPC_TRANSPORT_H_

#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/transport/transport.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "grpcpp/channel.h"

namespace cohort::client {

// CoordinatorTransport over gRPC (TLS). FetchModel resumes an interrupted
// download from the bytes received so far, up to 5 attempts. FetchModelFrom
// asks for a delta from the held version (FetchModelRequest.base_version),
// applies it (model::ApplyDelta, bounded by ref.size_bytes()) and, when the
// stream is inconsistent or the delta does not apply, downloads the full
// artifact once. Each download logs the bytes received against the
// artifact's size, with running totals (download_stats()). Thread-safe:
// sessions may be used from different threads, one thread per session.
class GrpcTransport final : public CoordinatorTransport {
 public:
  // `tls` and `server_name` are what the channel under `stub` uses; they
  // name the trust root in errors and drive Diagnose().
  GrpcTransport(std::unique_ptr<cohort::v1::Coordinator::StubInterface> stub,
                std::string server_address, cohort::v1::TlsConfig tls,
                std::string server_name);

  // A transport over MakeTlsChannel(address, tls, server_name).
  static absl::StatusOr<std::unique_ptr<GrpcTransport>> Connect(
      const std::string& address, const cohort::v1::TlsConfig& tls,
      const std::string& server_name,
      absl::Duration keepalive = kDefaultKeepalive);

  std::unique_ptr<ParticipationSession> OpenSession() override;
  absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef& ref,
                                         const std::string& task) override;
  absl::StatusOr<std::string> FetchModelFrom(const cohort::v1::ModelRef& ref,
                                             const std::string& task,
                                             const ModelBase& base) override;
  DownloadStats download_stats() const override;
  void CancelAll() override;
  // A TLS handshake made with OpenSSL (ProbeTls) names local mistakes.
  absl::Status Diagnose() override;
  // One unary call, at most kRenewTimeout.
  absl::StatusOr<cohort::v1::DeviceCertificate> RenewCertificate(
      const std::string& csr_pem) override;
  // A new channel (and stub) over the same address and TLS files.
  absl::Status ReloadIdentity() override;
  static constexpr absl::Duration kRenewTimeout = absl::Seconds(30);

  // Registers a call so CancelAll can reach it. Used by sessions.
  void Track(grpc::ClientContext* ctx);
  void Untrack(grpc::ClientContext* ctx);
  // Converts a finished call's status, naming an untrusted server clearly.
  absl::Status FromGrpc(const grpc::Status& status,
                        const std::string& what) const;

  cohort::v1::Coordinator::StubInterface* stub() { return stub_.get(); }

  static constexpr int64_t kMaxModelBytes = int64_t{256} << 20;
  static constexpr absl::Duration kDefaultKeepalive = absl::Seconds(20);

 private:
  // One stream as the server chose it.
  struct Received {
    std::string bytes;
    bool delta = false;  // ZSTD_DELTA, else the full artifact
  };
  // One stream of `ref` (a delta from `base_version` when > 0 and the
  // server chose one), resumed after UNAVAILABLE; adds the bytes streamed to
  // *received. DATA_LOSS when the stream is inconsistent (offsets, sizes, an
  // encoding or base other than asked for or than it started with).
  absl::StatusOr<Received> Download(const cohort::v1::ModelRef& ref,
                                    const std::string& task,
                                    int64_t base_version, int64_t* received);
  // The artifact, rebuilt from `base` when the server sends a delta (then
  // *delta is set). DATA_LOSS when the stream or the delta is bad.
  absl::StatusOr<std::string> FetchThroughDelta(const cohort::v1::ModelRef& ref,
                                                const std::string& task,
                                                const ModelBase& base,
                                                int64_t* received, bool* delta);
  // Adds one call to the counters and logs it.
  void Record(const cohort::v1::ModelRef& ref, bool ok, bool delta,
              int64_t received);

  std::unique_ptr<cohort::v1::Coordinator::StubInterface> stub_;
  // Connect's keepalive, for ReloadIdentity's new channel.
  absl::Duration keepalive_ = kDefaultKeepalive;
  const std::string server_address_;
  const cohort::v1::TlsConfig tls_;
  const std::string server_name_;
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> active_ ABSL_GUARDED_BY(mu_);
  DownloadStats stats_ ABSL_GUARDED_BY(mu_);
};

// A TLS channel to `address` whose only trust root is tls.ca_cert_path,
// expecting `server_name` in the server's certificate. The device's own
// certificate is presented when tls.cert_path and tls.key_path are set (mTLS).
// Messages of up to 64 MiB either way. HTTP/2 keepalive pings every
// `keepalive`, also on idle streams. NOT_FOUND for a missing PEM file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeTlsChannel(
    const std::string& address, const cohort::v1::TlsConfig& tls,
    const std::string& server_name,
    absl::Duration keepalive = GrpcTransport::kDefaultKeepalive);

// True when an RPC failed because the TLS handshake rejected the server's
// certificate (so retrying cannot help).
bool IsTlsTrustFailure(const grpc::Status& status);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRANSPORT_GRPC_TRANSPORT_H_
