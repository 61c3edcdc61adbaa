#include "server/api/tls.h"

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "grpcpp/security/server_credentials.h"

namespace cohort::server {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const cohort::v1::TlsConfig& tls) {
  if (tls.cert_path().empty() || tls.key_path().empty()) {
    return absl::InvalidArgumentError(
        "tls.cert_path and tls.key_path are required: the server has no "
        "plaintext port");
  }
  COHORT_ASSIGN_OR_RETURN(std::string cert, base::ReadFile(tls.cert_path(), 1 << 20));
  COHORT_ASSIGN_OR_RETURN(std::string key, base::ReadFile(tls.key_path(), 1 << 20));
  grpc::SslServerCredentialsOptions options(
      tls.ca_cert_path().empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back({key, cert});
  if (!tls.ca_cert_path().empty()) {
    COHORT_ASSIGN_OR_RETURN(options.pem_root_certs,
                            base::ReadFile(tls.ca_cert_path(), 1 << 20));
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace cohort::server
