#ifndef COHORT_CLIENT_TRANSPORT_TLS_PROBE_H_
#define COHORT_CLIENT_TRANSPORT_TLS_PROBE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cohort/v1/config.pb.h"

namespace cohort::client {

// Why a device cannot open a TLS connection to its coordinator, found with
// OpenSSL directly: gRPC reports most local mistakes as "Socket closed".
// These are the device's own configuration errors, so each message names
// the cause and the fix, and the agent exits with code 3 instead of
// retrying.

// Checks the device's own certificate (tls.cert_path, if set) against the
// device clock `now` before any connection: UNAUTHENTICATED naming the
// certificate, its validity period and how far the clock is off when it is
// not yet valid or has expired, or when tls.key_path does not hold its key.
// NOT_FOUND / INVALID_ARGUMENT for a missing or unreadable file. OK if no
// certificate is configured.
absl::Status CheckDeviceCertificate(const cohort::v1::TlsConfig& tls,
                                    absl::Time now);

// One TLS handshake with `address` ("host:port") as the agent makes it (the
// CA file, the device certificate, `server_name`, ALPN h2), then a read of
// the server's first bytes, which shows whether it accepted the device's
// certificate. Returns
//  - OK: the handshake completed (and the server did not refuse us within
//    `timeout`);
//  - UNAUTHENTICATED, naming the cause and the fix: the server's certificate
//    does not chain to tls.ca_cert_path, does not name `server_name`, or is
//    not valid at the device's clock; or the server refused the device's
//    certificate (e.g. signed by another CA);
//  - UNAVAILABLE: no TCP connection, or no answer within `timeout` (retry).
absl::Status ProbeTls(const std::string& address,
                      const cohort::v1::TlsConfig& tls,
                      const std::string& server_name, absl::Duration timeout);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRANSPORT_TLS_PROBE_H_
