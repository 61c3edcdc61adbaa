#include "server/api/grpc_util.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/base/grpc_status.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"

namespace cohort::server {
namespace {

// The first property `name` of `auth`, or "".
std::string FirstProperty(const grpc::AuthContext& auth, const char* name) {
  const std::vector<grpc::string_ref> values = auth.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values[0].data(), values[0].size());
}

// The CN of an RFC 2253 subject such as "CN=operator,O=Cohort". An escaped
// comma before or in the CN gives "": splitting could no longer tell a CN
// from text inside another attribute's value.
std::string CommonNameOfSubject(absl::string_view subject) {
  for (absl::string_view part : absl::StrSplit(subject, ',')) {
    part = absl::StripLeadingAsciiWhitespace(part);
    if (absl::EndsWith(part, "\\")) return "";
    if (absl::StartsWith(part, "CN=")) return std::string(part.substr(3));
  }
  return "";
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return base::ToGrpcStatus(status);
}

std::string PeerCommonName(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::string name = FirstProperty(*auth, GRPC_X509_CN_PROPERTY_NAME);
  if (!name.empty()) return name;
  return CommonNameOfSubject(
      FirstProperty(*auth, GRPC_X509_SUBJECT_PROPERTY_NAME));
}

}  // namespace cohort::server
