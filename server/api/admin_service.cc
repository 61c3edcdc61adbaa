#include "server/api/admin_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "server/api/grpc_util.h"
#include "server/enrollment/fleet_ca.h"
#include "server/round/published_model.h"
#include "server/round/round_state.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

using cohort::v1::ListDevicesResponse;
using cohort::v1::ListReleasesResponse;
using cohort::v1::ListVersionsResponse;
using cohort::v1::SignedManifest;
using cohort::v1::StatusResponse;

// Longest reason of a release, pause or resume. The release log keeps up to
// kMaxReleaseTextBytes, of which the engine's "rollback to version N: "
// prefix takes a little; a reason is a sentence, not a document.
constexpr size_t kMaxReasonBytes = 4096;
static_assert(kMaxReasonBytes + 64 < kMaxReleaseTextBytes);

// ListDevices' page size when the request names none, and its cap: a page
// is one store query and one message of ~50 bytes per device.
constexpr int kMaxDevicesPerPage = 1000;

// `result` into `out`, or its error as a grpc::Status.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

// A certificate subject or free text as it may go into a log line.
std::string Printable(const std::string& text) {
  return text.empty() ? "<none>" : absl::CHexEscape(text);
}

void FillVersion(const ModelVersionRecord& record, cohort::v1::VersionInfo* v) {
  v->set_version(record.version);
  v->set_parent(record.parent);
  v->set_round_id(record.round_id);
  v->set_architecture(record.architecture);
  v->set_created_at_unix_ms(record.created_at_unix_ms);
  v->mutable_metrics()->insert(record.metrics.begin(), record.metrics.end());
  v->set_status(record.held ? "held" : "committed");
}

absl::StatusOr<ListVersionsResponse> VersionsOf(Store& store,
                                                const std::string& task) {
  COHORT_ASSIGN_OR_RETURN(std::vector<ModelVersionRecord> versions,
                          store.ListVersions(task));
  COHORT_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases,
                          store.ListReleases(task));
  COHORT_ASSIGN_OR_RETURN(std::optional<ModelVersionRecord> current,
                          store.GetCurrent(task));
  std::set<int64_t> released;
  for (const ReleaseRecord& r : releases) released.insert(r.version);
  ListVersionsResponse response;
  for (const ModelVersionRecord& record : versions) {
    cohort::v1::VersionInfo* v = response.add_versions();
    FillVersion(record, v);
    v->set_released(released.contains(record.version));
    v->set_current(current.has_value() && current->version == record.version);
  }
  return response;
}

absl::StatusOr<ListReleasesResponse> ReleasesOf(Store& store,
                                                const std::string& task) {
  COHORT_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases,
                          store.ListReleases(task));
  COHORT_ASSIGN_OR_RETURN(std::optional<ReleaseRecord> current,
                          store.GetCurrentRelease(task));
  ListReleasesResponse response;
  for (const ReleaseRecord& record : releases) {
    cohort::v1::ReleaseInfo* r = response.add_releases();
    r->set_release(record.release);
    r->set_version(record.version);
    const char* kind = ReleaseKindName(record.kind);
    r->set_kind(kind == nullptr ? "unknown" : kind);
    r->set_reason(record.reason);
    r->set_actor(record.actor);
    r->set_created_at_unix_ms(record.created_at_unix_ms);
    r->set_current(current.has_value() && current->release == record.release);
  }
  return response;
}

// Release `release` of `task`, or its current release for 0.
absl::StatusOr<ReleaseRecord> ReleaseOf(Store& store, const std::string& task,
                                        int64_t release) {
  if (release < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("release ", release, ": must be >= 0 (0 = current)"));
  }
  if (release > 0) return store.GetRelease(task, release);
  COHORT_ASSIGN_OR_RETURN(std::optional<ReleaseRecord> current,
                          store.GetCurrentRelease(task));
  if (!current.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "task '", task, "' has no release yet (is signing configured?)"));
  }
  return std::move(*current);
}

absl::StatusOr<SignedManifest> ManifestOf(Store& store, const std::string& task,
                                          int64_t release) {
  COHORT_ASSIGN_OR_RETURN(ReleaseRecord record,
                          ReleaseOf(store, task, release));
  SignedManifest manifest;
  if (!manifest.ParseFromString(record.signed_manifest)) {
    return absl::DataLossError(absl::StrCat(
        "release ", record.release, ": the stored manifest does not parse"));
  }
  return manifest;
}

// The one rule for an operator's reason: at most kMaxReasonBytes, no NUL
// byte, and not empty when `required` (a release records it).
absl::Status CheckReason(const std::string& reason, bool required) {
  if (required && reason.empty()) {
    return absl::InvalidArgumentError(
        "reason is required: it is recorded in the release log");
  }
  if (reason.size() > kMaxReasonBytes ||
      reason.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reason: at most ", kMaxReasonBytes, " bytes, no NUL byte"));
  }
  return absl::OkStatus();
}

// Rollback, Promote and Pin requests.
absl::Status CheckRollback(const cohort::v1::RollbackRequest& request) {
  if (request.to_version() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "to_version ", request.to_version(), ": must be a version >= 1"));
  }
  return CheckReason(request.reason(), /*required=*/true);
}

absl::Status EngineStarted(const RoundEngine& engine) {
  if (engine.current_model() != nullptr) return absl::OkStatus();
  return absl::UnavailableError("the round engine has not started");
}

// What Status, Pause, Resume and ListTasks answer for the engine's task.
absl::StatusOr<StatusResponse> StatusOf(const RoundEngine& engine) {
  COHORT_RETURN_IF_ERROR(EngineStarted(engine));
  const std::shared_ptr<const PublishedModel> model = engine.current_model();
  StatusResponse response;
  response.set_task(engine.task());
  response.set_round_id(engine.round_id());
  response.set_phase(PhaseName(engine.phase()));
  response.set_current_version(model->version);
  response.set_current_release(model->release);
  response.set_rounds_committed(engine.rounds_committed());
  response.set_assigned_devices(engine.assigned_count());
  response.set_paused(engine.paused());
  response.set_pinned(engine.pinned());
  return response;
}

// The store's page size for a ListDevices request's `limit`.
absl::StatusOr<int> DevicePageLimit(int32_t limit) {
  if (limit < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit ", limit, ": must be >= 0 (0 = ", kMaxDevicesPerPage, ")"));
  }
  if (limit == 0) return kMaxDevicesPerPage;
  return std::min<int>(limit, kMaxDevicesPerPage);
}

absl::StatusOr<ListDevicesResponse> DevicesOf(
    Store& store, const cohort::v1::ListDevicesRequest& request) {
  COHORT_ASSIGN_OR_RETURN(int limit, DevicePageLimit(request.limit()));
  COHORT_ASSIGN_OR_RETURN(std::vector<DeviceRecord> devices,
                          store.ListDevices(request.after(), limit));
  ListDevicesResponse response;
  for (const DeviceRecord& d : devices) {
    cohort::v1::DeviceInfo* info = response.add_devices();
    info->set_device_id(d.device_id);
    info->set_last_seen_unix_ms(d.last_seen_unix_ms);
    info->set_check_ins(d.check_ins);
    info->set_reports_accepted(d.reports_accepted);
    info->set_reports_rejected(d.reports_rejected);
  }
  return response;
}

}  // namespace

AdminService::AdminService(Store* store, RoundEngine* engine,
                           const std::vector<std::string>& allowed_subjects,
                           const FleetCa* ca, SubjectOf subject_of)
    : store_(store),
      engine_(engine),
      allowed_subjects_(allowed_subjects.begin(), allowed_subjects.end()),
      ca_(ca),
      subject_of_(subject_of != nullptr
                      ? std::move(subject_of)
                      : [](const grpc::ServerContext& c) {
                          return PeerCommonName(c);
                        }) {}

grpc::Status AdminService::Authorize(const grpc::ServerContext& context,
                                     const char* method,
                                     std::string* subject) const {
  *subject = subject_of_(context);
  if (!subject->empty() && allowed_subjects_.contains(*subject)) {
    return grpc::Status::OK;
  }
  const std::string shown = Printable(*subject);
  LOG(WARNING) << "admin: refused " << method << " from certificate subject "
               << shown << ": not in admin.allowed_subjects";
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat("certificate subject '", shown,
                   "' may not call the admin API (admin.allowed_subjects)"));
}

grpc::Status AdminService::Admit(const grpc::ServerContext& context,
                                 const char* method, const std::string& task,
                                 std::string* subject) const {
  grpc::Status authorized = Authorize(context, method, subject);
  if (!authorized.ok()) return authorized;
  if (task != engine_->task()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("this coordinator serves task '",
                                     engine_->task(), "', not '", task, "'"));
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListVersions(
    grpc::ServerContext* context,
    const cohort::v1::ListVersionsRequest* request,
    ListVersionsResponse* response) {
  std::string subject;
  grpc::Status admitted =
      Admit(*context, "ListVersions", request->task(), &subject);
  if (!admitted.ok()) return admitted;
  return Reply(VersionsOf(*store_, request->task()), response);
}

grpc::Status AdminService::ListReleases(
    grpc::ServerContext* context,
    const cohort::v1::ListReleasesRequest* request,
    ListReleasesResponse* response) {
  std::string subject;
  grpc::Status admitted =
      Admit(*context, "ListReleases", request->task(), &subject);
  if (!admitted.ok()) return admitted;
  return Reply(ReleasesOf(*store_, request->task()), response);
}

grpc::Status AdminService::GetManifest(
    grpc::ServerContext* context, const cohort::v1::GetManifestRequest* request,
    SignedManifest* response) {
  std::string subject;
  grpc::Status admitted =
      Admit(*context, "GetManifest", request->task(), &subject);
  if (!admitted.ok()) return admitted;
  return Reply(ManifestOf(*store_, request->task(), request->release()),
               response);
}

grpc::Status AdminService::Release(const grpc::ServerContext& context,
                                   const char* method, ReleaseRecord::Kind kind,
                                   const cohort::v1::RollbackRequest& request,
                                   cohort::v1::RollbackResponse* response) {
  std::string subject;
  grpc::Status admitted = Admit(context, method, request.task(), &subject);
  if (!admitted.ok()) return admitted;
  absl::Status valid = CheckRollback(request);
  if (!valid.ok()) return ToGrpcStatus(valid);
  LOG(INFO) << "admin: " << method << " by " << Printable(subject)
            << ": task " << request.task() << " to version "
            << request.to_version() << ", reason \""
            << Printable(request.reason()) << "\"";
  absl::StatusOr<RollbackOutcome> outcome = engine_->RollBack(
      request.to_version(), request.reason(), "operator:" + subject, kind);
  if (!outcome.ok()) {
    LOG(WARNING) << "admin: " << method << " by " << Printable(subject)
                 << " failed: " << outcome.status();
    return ToGrpcStatus(outcome.status());
  }
  response->set_version(outcome->version);
  response->set_release(outcome->release);
  return grpc::Status::OK;
}

grpc::Status AdminService::Rollback(grpc::ServerContext* context,
                                    const cohort::v1::RollbackRequest* request,
                                    cohort::v1::RollbackResponse* response) {
  return Release(*context, "Rollback", ReleaseRecord::Kind::kRollback,
                 *request, response);
}

grpc::Status AdminService::Promote(grpc::ServerContext* context,
                                   const cohort::v1::RollbackRequest* request,
                                   cohort::v1::RollbackResponse* response) {
  return Release(*context, "Promote", ReleaseRecord::Kind::kPromote, *request,
                 response);
}

grpc::Status AdminService::Pin(grpc::ServerContext* context,
                               const cohort::v1::RollbackRequest* request,
                               cohort::v1::RollbackResponse* response) {
  return Release(*context, "Pin", ReleaseRecord::Kind::kPin, *request,
                 response);
}

grpc::Status AdminService::Status(grpc::ServerContext* context,
                                  const cohort::v1::StatusRequest* request,
                                  StatusResponse* response) {
  std::string subject;
  grpc::Status admitted = Admit(*context, "Status", request->task(), &subject);
  if (!admitted.ok()) return admitted;
  return Reply(StatusOf(*engine_), response);
}

grpc::Status AdminService::SetPaused(const grpc::ServerContext& context,
                                     const char* method, bool paused,
                                     const cohort::v1::PauseRequest& request,
                                     StatusResponse* response) {
  std::string subject;
  grpc::Status admitted = Admit(context, method, request.task(), &subject);
  if (!admitted.ok()) return admitted;
  absl::Status valid = CheckReason(request.reason(), /*required=*/false);
  if (valid.ok()) valid = EngineStarted(*engine_);
  if (!valid.ok()) return ToGrpcStatus(valid);
  LOG(INFO) << "admin: " << method << " by " << Printable(subject)
            << ": task " << request.task() << ", reason \""
            << Printable(request.reason()) << "\"";
  engine_->SetPaused(paused, request.reason(), "operator:" + subject);
  return Reply(StatusOf(*engine_), response);
}

grpc::Status AdminService::Pause(grpc::ServerContext* context,
                                 const cohort::v1::PauseRequest* request,
                                 StatusResponse* response) {
  return SetPaused(*context, "Pause", /*paused=*/true, *request, response);
}

grpc::Status AdminService::Resume(grpc::ServerContext* context,
                                  const cohort::v1::PauseRequest* request,
                                  StatusResponse* response) {
  return SetPaused(*context, "Resume", /*paused=*/false, *request, response);
}

grpc::Status AdminService::ListTasks(
    grpc::ServerContext* context,
    const cohort::v1::ListTasksRequest* /*request*/,
    cohort::v1::ListTasksResponse* response) {
  std::string subject;
  grpc::Status authorized = Authorize(*context, "ListTasks", &subject);
  if (!authorized.ok()) return authorized;
  absl::StatusOr<StatusResponse> status = StatusOf(*engine_);
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response->add_tasks() = *std::move(status);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListDevices(
    grpc::ServerContext* context,
    const cohort::v1::ListDevicesRequest* request,
    ListDevicesResponse* response) {
  std::string subject;
  grpc::Status admitted =
      Admit(*context, "ListDevices", request->task(), &subject);
  if (!admitted.ok()) return admitted;
  return Reply(DevicesOf(*store_, *request), response);
}

grpc::Status AdminService::CreateEnrollmentToken(
    grpc::ServerContext* context,
    const cohort::v1::CreateEnrollmentTokenRequest* request,
    cohort::v1::EnrollmentToken* response) {
  std::string subject;
  grpc::Status authorized =
      Authorize(*context, "CreateEnrollmentToken", &subject);
  if (!authorized.ok()) return authorized;
  if (ca_ == nullptr) return ToGrpcStatus(NotEnrollingError());
  if (absl::Status name = ca_->CheckDeviceName(request->device_id());
      !name.ok()) {
    return ToGrpcStatus(name);
  }
  const int ttl_hours = request->ttl_hours() == 0 ? 24 : request->ttl_hours();
  if (ttl_hours < 1 || ttl_hours > 720) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("ttl_hours ", ttl_hours, " is outside [1, 720]")));
  }
  absl::StatusOr<std::string> token = NewEnrollmentToken();
  if (!token.ok()) return ToGrpcStatus(token.status());
  const absl::Time now = absl::Now();
  EnrollmentTokenRecord record;
  record.token_sha256 = *EnrollmentTokenHash(*token);
  record.device_id = request->device_id();
  record.created_unix_ms = absl::ToUnixMillis(now);
  record.expires_unix_ms = absl::ToUnixMillis(now + absl::Hours(ttl_hours));
  record.created_by = absl::StrCat("operator:", subject);
  if (absl::Status added = store_->AddEnrollmentToken(record); !added.ok()) {
    return ToGrpcStatus(added);
  }
  LOG(INFO) << "admin: " << subject << " made an enrollment token ("
            << record.token_sha256.substr(0, 8) << "...) for device "
            << record.device_id << ", valid " << ttl_hours << " h";
  response->set_token(*token);
  response->set_device_id(record.device_id);
  response->set_expires_at_unix_ms(record.expires_unix_ms);
  return grpc::Status::OK;
}

}  // namespace cohort::server
