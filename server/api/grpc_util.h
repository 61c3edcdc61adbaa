#ifndef COHORT_SERVER_API_GRPC_UTIL_H_
#define COHORT_SERVER_API_GRPC_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace cohort::server {

// The one mapping from absl::Status to grpc::Status: the same code (the two
// enums share their numbers) and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The common name of the peer's client certificate (mTLS): gRPC's
// "x509_common_name" property, else the CN in "x509_subject". Empty when the
// peer presented no certificate, or one without a common name. With a CA,
// MakeServerCredentials (tls.h) has gRPC require and verify the certificate
// in the handshake, so a name returned here is one the CA signed.
std::string PeerCommonName(const grpc::ServerContextBase& context);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_GRPC_UTIL_H_
