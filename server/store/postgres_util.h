#ifndef COHORT_SERVER_STORE_POSTGRES_UTIL_H_
#define COHORT_SERVER_STORE_POSTGRES_UTIL_H_

// The libpqxx-to-absl::Status boundary of PostgresStore: the only place where
// libpqxx exceptions become status codes.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort::server {

// What a caught libpqxx (or standard) exception means for the caller.
struct PgError {
  // UNAVAILABLE: the connection broke or the server is going away.
  // ALREADY_EXISTS: unique_violation. INVALID_ARGUMENT: SQLSTATE class 22
  // (data exception, e.g. text that is not valid UTF-8). DEADLINE_EXCEEDED:
  // query_canceled (57014), e.g. the statement timeout. INTERNAL: the rest.
  absl::Status status;
  // The server's or libpq's message, on one line.
  std::string message;
  // The connection is unusable and must be replaced.
  bool connection_lost = false;
  // The connection broke during COMMIT: the transaction may or may not have
  // been applied, so it must not be retried blindly.
  bool outcome_unknown = false;
};

// Describes the exception being handled. Call only inside a catch block.
// `context` (e.g. "CommitVersion") prefixes the status message.
PgError PgErrorFromCurrentException(absl::string_view context);

// `dsn` (key=value or URI form) as key=value pairs without the password, for
// log and error messages. INVALID_ARGUMENT with libpq's reason if `dsn` does
// not parse.
absl::StatusOr<std::string> RedactDsn(const std::string& dsn);

// `dsn` with libpq's connect_timeout set to `timeout` (rounded up to whole
// seconds, at least 2, as libpq counts it), unless `dsn` sets its own or
// `timeout` <= 0 (then `dsn` is returned as it is). The result is in
// key=value form and keeps the password. INVALID_ARGUMENT if `dsn` does not
// parse.
absl::StatusOr<std::string> WithConnectTimeout(const std::string& dsn,
                                               absl::Duration timeout);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_POSTGRES_UTIL_H_
