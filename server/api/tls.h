#ifndef COHORT_SERVER_API_TLS_H_
#define COHORT_SERVER_API_TLS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "cohort/v1/config.pb.h"
#include "grpcpp/security/server_credentials.h"

namespace cohort::server {

// Server TLS credentials from PEM files. cert_path and key_path are required;
// when ca_cert_path is set, clients must present a certificate it signed
// (mTLS). INVALID_ARGUMENT if cert or key is not configured, NOT_FOUND if a
// file is missing.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const cohort::v1::TlsConfig& tls);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_TLS_H_
