#ifndef COHORT_CLIENT_TRANSPORT_TRANSPORT_H_
#define COHORT_CLIENT_TRANSPORT_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::client {

// One Participate conversation, as a device sees it: CheckIn, then (after an
// assignment) Report, then Close. Implementations: gRPC over TLS
// (GrpcTransport) and the simulator's in-process transport. Not thread-safe;
// one session belongs to one device.
class ParticipationSession {
 public:
  virtual ~ParticipationSession() = default;

  // Sends the check-in and returns the server's answer: a TaskAssignment or a
  // RetryWindow. Errors carry the server's status code; UNAUTHENTICATED means
  // the server's certificate was not trusted.
  virtual absl::StatusOr<cohort::v1::ServerMessage> CheckIn(
      const cohort::v1::CheckIn& check_in) = 0;

  // Uploads the report and returns the acknowledgement.
  virtual absl::StatusOr<cohort::v1::Ack> Report(
      const cohort::v1::Report& report) = 0;

  // Secure rounds (TaskAssignment.secure_aggregation): sends one message on
  // the stream, and reads the server's next one. The gRPC transport blocks
  // in Receive until a message arrives or the stream ends (CancelAll
  // interrupts it); the simulator's in-process transport never blocks and
  // returns UNAVAILABLE when nothing is queued. After the stream ended, both
  // return its status (an Ack is the last message of a healthy stream).
  virtual absl::Status Send(const cohort::v1::ClientMessage& message) = 0;
  virtual absl::StatusOr<cohort::v1::ServerMessage> Receive() = 0;

  // Ends the conversation. Closing after an assignment without a report
  // tells the server the device dropped out. Idempotent.
  virtual void Close() = 0;
};

// A verified artifact the device holds: what a delta download rebuilds from.
// `bytes` is borrowed for the duration of the call.
struct ModelBase {
  int64_t version = 0;  // 0: none
  absl::string_view bytes;
};

// Model downloads since the transport was made, for logs and reports.
struct DownloadStats {
  int64_t downloads = 0;        // successful FetchModel* calls
  int64_t delta_downloads = 0;  // of which rebuilt from a delta
  int64_t bytes_received = 0;   // streamed bytes, fallbacks included
  int64_t artifact_bytes = 0;   // sizes of the artifacts downloaded
};

// The device's connection to a coordinator.
class CoordinatorTransport {
 public:
  virtual ~CoordinatorTransport() = default;

  virtual std::unique_ptr<ParticipationSession> OpenSession() = 0;

  // The serialized weights of `ref`, exactly ref.size_bytes() long. The caller
  // checks the hash (VerifyModelBytes) before using a byte.
  virtual absl::StatusOr<std::string> FetchModel(const cohort::v1::ModelRef& ref,
                                                 const std::string& task) = 0;

  // As FetchModel, from a device that holds `base`: the server may send a
  // delta from it (common/model/delta.h), which is applied here; a delta
  // that fails to apply is followed by one full download. Returns exactly
  // ref.size_bytes() bytes, not yet verified: the caller checks their hash
  // as for FetchModel, so a wrong rebuild is refused like a tampered
  // download. The default ignores `base`.
  virtual absl::StatusOr<std::string> FetchModelFrom(
      const cohort::v1::ModelRef& ref, const std::string& task,
      const ModelBase& base) {
    return FetchModel(ref, task);
  }

  // Bytes received against artifact bytes downloaded; zeros when the
  // transport does not count.
  virtual DownloadStats download_stats() const { return {}; }

  // Aborts any call in flight (from another thread, e.g. on SIGTERM).
  virtual void CancelAll() {}

  // Called after a call failed with UNAVAILABLE: UNAUTHENTICATED (or
  // INVALID_ARGUMENT) naming the cause and the fix when the device's own
  // configuration is why it cannot connect (a wrong server name, a
  // certificate from another CA, a clock off by minutes), so that the caller
  // stops instead of retrying forever; OK when the failure looks transient.
  virtual absl::Status Diagnose() { return absl::OkStatus(); }

  // RenewCertificate on the device port (coordinator.proto): a new
  // certificate for the CSR, authenticated by the device's current one.
  // UNIMPLEMENTED where the transport has no such call.
  virtual absl::StatusOr<cohort::v1::DeviceCertificate> RenewCertificate(
      const std::string& csr_pem) {
    return absl::UnimplementedError("this transport cannot renew");
  }

  // Reads the device's certificate and key files again, so later calls
  // present a renewed certificate. Call only while no call is in flight.
  // OK where there is nothing to reload.
  virtual absl::Status ReloadIdentity() { return absl::OkStatus(); }
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRANSPORT_TRANSPORT_H_
