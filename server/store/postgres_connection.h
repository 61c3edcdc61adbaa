#ifndef COHORT_SERVER_STORE_POSTGRES_CONNECTION_H_
#define COHORT_SERVER_STORE_POSTGRES_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/call_watchdog.h"

namespace pqxx {
class connection_base;
}  // namespace pqxx

namespace cohort::server {

// One PostgreSQL connection, used by one call at a time, that reconnects
// when it breaks: the connection handling shared by PostgresStore and
// PostgresLeases.
//
// Each session sets `statement_timeout` (zero: the server's own) and
// `idle_in_transaction_session_timeout` (zero: the statement timeout), so a
// process that stops in the middle of a transaction (SIGSTOP, a paused VM)
// holds its row locks no longer than that. `call_timeout` (zero: none) bounds
// each call on the client's side with a CallWatchdog: a call that gets no
// answer for that long has its connection closed and fails with UNAVAILABLE "no
// answer from PostgreSQL within <call_timeout>", and is not retried; the next
// call reconnects.
//
// Run() turns libpqxx exceptions into a Status (PgErrorFromCurrentException,
// postgres_util.h). If it finds the connection broken it reconnects and runs
// the body once more (the server rolled the failed transaction back); if the
// connection broke during COMMIT the outcome is unknown and the call is not
// retried (UNAVAILABLE).
class PostgresConnection {
 public:
  // Connects to `dsn` (which should bound connecting, see
  // WithConnectTimeout). UNAVAILABLE "cannot connect to PostgreSQL
  // (<redacted_dsn>): ..." if the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Open(
      std::string dsn, std::string redacted_dsn,
      absl::Duration statement_timeout, absl::Duration call_timeout,
      absl::Duration idle_in_transaction_timeout = absl::ZeroDuration());

  // Open on `dsn` as given by an operator: its password kept out of
  // messages (RedactDsn), connecting bounded by `connect_timeout` unless the
  // DSN sets one (WithConnectTimeout). INVALID_ARGUMENT for a DSN that does
  // not parse.
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect(
      const std::string& dsn, absl::Duration statement_timeout,
      absl::Duration call_timeout, absl::Duration connect_timeout,
      absl::Duration idle_in_transaction_timeout = absl::ZeroDuration());

  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;
  ~PostgresConnection();

  // Runs `body` (one transaction) on the connection, with errors prefixed
  // by `what`. `body` may run twice, so it must reset its outputs.
  absl::Status Run(absl::string_view what,
                   absl::FunctionRef<absl::Status(pqxx::connection_base&)> body)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The DSN without its password, for messages.
  const std::string& redacted_dsn() const { return redacted_dsn_; }

 private:
  class Session;  // Owns the pqxx connection; defined in the .cc file.

  PostgresConnection(std::string dsn, std::string redacted_dsn,
                     absl::Duration statement_timeout,
                     absl::Duration call_timeout,
                     absl::Duration idle_in_transaction_timeout);

  // Connects and sets the session's parameters under the watchdog.
  absl::StatusOr<std::unique_ptr<Session>> OpenSession();

  // The status of a call that `watchdog_` ended.
  absl::Status Stalled(absl::string_view what, bool outcome_unknown) const;

  const std::string dsn_;  // May hold a password.
  const std::string redacted_dsn_;
  const absl::Duration statement_timeout_;
  const absl::Duration idle_in_transaction_timeout_;
  absl::Mutex mu_;
  std::unique_ptr<Session> session_ ABSL_GUARDED_BY(mu_);  // Null if lost.
  CallWatchdog watchdog_;  // Armed only under mu_, around one call.
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_POSTGRES_CONNECTION_H_
