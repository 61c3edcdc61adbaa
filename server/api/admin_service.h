#ifndef COHORT_SERVER_API_ADMIN_SERVICE_H_
#define COHORT_SERVER_API_ADMIN_SERVICE_H_

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cohort/v1/admin.grpc.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/enrollment/fleet_ca.h"
#include "server/round/round_engine.h"
#include "server/store/store.h"

namespace cohort::server {

// AdminConfig with defaults applied (ResolveServerOptions).
struct AdminOptions {
  // host:port of the admin port; port 0 picks a free one. Empty: no admin
  // API.
  std::string listen_address;
  // Empty: the bound admin port is only logged.
  std::string port_file;
  // Client certificate common names allowed to call the admin API; none is
  // empty.
  std::vector<std::string> allowed_subjects = {"operator"};
  bool enabled() const { return !listen_address.empty(); }
};

// The operator's API (proto/cohort/v1/admin.proto) over gRPC's synchronous
// interface: every call reads the store or waits for the engine, so it runs
// on gRPC's thread pool rather than in a reactor. Store and engine are
// borrowed and must outlive the service; both are thread-safe, and so is
// the service.
//
// Every RPC first authorizes the caller (Authorize): the common name of its
// verified client certificate must be in `allowed_subjects`, else
// PERMISSION_DENIED naming the subject, logged as a warning with the method.
// Then a request for another task than the engine's is NOT_FOUND (ListTasks
// names none). Store and engine errors keep their codes (ToGrpcStatus).
// Rollback, Promote, Pin, Pause and Resume are logged with the subject and
// passed to the engine with actor "operator:<CN>".
class AdminService final : public cohort::v1::Admin::Service {
 public:
  // The common name of the caller's verified client certificate, "" when
  // there is none.
  using SubjectOf = std::function<std::string(const grpc::ServerContext&)>;

  // `ca` (borrowed; null: the coordinator does not enroll) decides which
  // device names a token may be made for. `subject_of` reads the caller's
  // name; null: from the TLS peer (PeerCommonName). The admin API fuzzer
  // passes its own, having no TLS connection.
  AdminService(Store* store, RoundEngine* engine,
               const std::vector<std::string>& allowed_subjects,
               const FleetCa* ca = nullptr, SubjectOf subject_of = nullptr);

  grpc::Status ListVersions(
      grpc::ServerContext* context,
      const cohort::v1::ListVersionsRequest* request,
      cohort::v1::ListVersionsResponse* response) override;
  grpc::Status ListReleases(
      grpc::ServerContext* context,
      const cohort::v1::ListReleasesRequest* request,
      cohort::v1::ListReleasesResponse* response) override;
  // NOT_FOUND when the release does not exist (release 0: when the task has
  // none yet); INVALID_ARGUMENT for a negative release; DATA_LOSS when the
  // stored manifest does not parse.
  grpc::Status GetManifest(grpc::ServerContext* context,
                           const cohort::v1::GetManifestRequest* request,
                           cohort::v1::SignedManifest* response) override;
  // INVALID_ARGUMENT for to_version < 1 or a reason that is empty, over
  // 4 KiB or holds a NUL byte; otherwise the codes of RoundEngine::RollBack
  // (which logs the outcome).
  grpc::Status Rollback(grpc::ServerContext* context,
                        const cohort::v1::RollbackRequest* request,
                        cohort::v1::RollbackResponse* response) override;
  // As Rollback, releasing with kind promote (RoundEngine::RollBack with
  // ReleaseRecord::Kind::kPromote). Same request check and codes.
  grpc::Status Promote(grpc::ServerContext* context,
                       const cohort::v1::RollbackRequest* request,
                       cohort::v1::RollbackResponse* response) override;
  // As Rollback, releasing with kind pin (ReleaseRecord::Kind::kPin). Same
  // request check and codes.
  grpc::Status Pin(grpc::ServerContext* context,
                   const cohort::v1::RollbackRequest* request,
                   cohort::v1::RollbackResponse* response) override;
  // UNAVAILABLE before the engine has a current model.
  grpc::Status Status(grpc::ServerContext* context,
                      const cohort::v1::StatusRequest* request,
                      cohort::v1::StatusResponse* response) override;
  // RoundEngine::SetPaused(true), then the Status answer. INVALID_ARGUMENT
  // for a reason over 4 KiB or holding a NUL byte (it may be empty);
  // UNAVAILABLE, changing nothing, before the engine has a current model.
  grpc::Status Pause(grpc::ServerContext* context,
                     const cohort::v1::PauseRequest* request,
                     cohort::v1::StatusResponse* response) override;
  // As Pause, with SetPaused(false).
  grpc::Status Resume(grpc::ServerContext* context,
                      const cohort::v1::PauseRequest* request,
                      cohort::v1::StatusResponse* response) override;
  // The engine's task as Status answers it. UNAVAILABLE before the engine
  // has a current model.
  grpc::Status ListTasks(grpc::ServerContext* context,
                         const cohort::v1::ListTasksRequest* request,
                         cohort::v1::ListTasksResponse* response) override;
  // Store::ListDevices with request.limit (0: 1000; above 1000: 1000).
  // INVALID_ARGUMENT for a negative limit or an `after` that is not empty
  // or a device id.
  grpc::Status ListDevices(grpc::ServerContext* context,
                           const cohort::v1::ListDevicesRequest* request,
                           cohort::v1::ListDevicesResponse* response) override;
  // A new single-use token (coordinator.proto, service Enrollment), its
  // SHA-256 stored with the device id, its expiry and "operator:<CN>".
  // FAILED_PRECONDITION when the coordinator does not enroll;
  // INVALID_ARGUMENT for a malformed device id or ttl_hours outside
  // [1, 720]; PERMISSION_DENIED for an operator's name
  // (FleetCa::CheckDeviceName); the store's errors.
  grpc::Status CreateEnrollmentToken(
      grpc::ServerContext* context,
      const cohort::v1::CreateEnrollmentTokenRequest* request,
      cohort::v1::EnrollmentToken* response) override;

 private:
  // OK when the caller's verified certificate names an allowed subject;
  // sets `subject` to that common name ("" when there is none).
  grpc::Status Authorize(const grpc::ServerContext& context, const char* method,
                         std::string* subject) const;
  // Authorize, then NOT_FOUND unless `task` is the engine's task.
  grpc::Status Admit(const grpc::ServerContext& context, const char* method,
                     const std::string& task, std::string* subject) const;
  // Rollback, Promote and Pin: admission, the request check, the log line
  // and RoundEngine::RollBack with `kind`.
  grpc::Status Release(const grpc::ServerContext& context, const char* method,
                       ReleaseRecord::Kind kind,
                       const cohort::v1::RollbackRequest& request,
                       cohort::v1::RollbackResponse* response);
  // Pause and Resume.
  grpc::Status SetPaused(const grpc::ServerContext& context,
                         const char* method, bool paused,
                         const cohort::v1::PauseRequest& request,
                         cohort::v1::StatusResponse* response);

  Store* const store_;
  RoundEngine* const engine_;
  const std::set<std::string> allowed_subjects_;
  const FleetCa* const ca_;
  const SubjectOf subject_of_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_ADMIN_SERVICE_H_
