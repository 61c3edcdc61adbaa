#include "server/api/enrollment_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/grpc_status.h"
#include "common/crypto/x509.h"
#include "glog/logging.h"

namespace cohort::server {
namespace {

// The store's refusals of a token, as the device sees them: an unknown,
// used or expired token is a failed credential.
absl::Status TokenRefusal(const absl::Status& used) {
  if (absl::IsNotFound(used)) {
    return absl::UnauthenticatedError("unknown enrollment token");
  }
  if (absl::IsFailedPrecondition(used)) {
    return absl::UnauthenticatedError(
        absl::StrCat("enrollment token refused: ", used.message()));
  }
  return used;
}

}  // namespace

grpc::Status EnrollmentService::Enroll(
    grpc::ServerContext* /*context*/, const cohort::v1::EnrollRequest* request,
    cohort::v1::DeviceCertificate* response) {
  absl::StatusOr<std::string> hash = EnrollmentTokenHash(request->token());
  if (!hash.ok()) {
    return base::ToGrpcStatus(absl::UnauthenticatedError(hash.status().message()));
  }
  const std::string tag = hash->substr(0, 8);
  absl::StatusOr<crypto::CsrInfo> csr = crypto::VerifyCsrPem(request->csr_pem());
  if (!csr.ok()) return base::ToGrpcStatus(csr.status());
  const absl::Time now = clock_->Now();
  absl::StatusOr<cohort::v1::DeviceCertificate> issued =
      ca_->Issue(request->csr_pem(), csr->common_name, now);
  if (!issued.ok()) return base::ToGrpcStatus(issued.status());
  absl::StatusOr<EnrollmentTokenRecord> used = store_->UseEnrollmentToken(
      *hash, csr->common_name, absl::ToUnixMillis(now));
  if (!used.ok()) {
    const absl::Status refused = TokenRefusal(used.status());
    LOG(WARNING) << "enrollment of " << csr->common_name << " with token "
                 << tag
                 << "... refused: " << refused;
    return base::ToGrpcStatus(refused);
  }
  LOG(INFO) << "enrolled device " << csr->common_name << " (token " << tag
            << "..., made by " << used->created_by << "); certificate valid "
            << "until " << absl::FromUnixMillis(issued->not_after_unix_ms());
  *response = *std::move(issued);
  return grpc::Status::OK;
}

}  // namespace cohort::server
