#include "server/store/postgres_connection.h"

#include <algorithm>
#include <cstdint>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "server/store/postgres_util.h"

namespace cohort::server {

namespace {

// A timeout for a SET: whole milliseconds, at least 1.
int64_t Milliseconds(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(d));
}

}  // namespace

class PostgresConnection::Session {
 public:
  explicit Session(const std::string& dsn) : conn_(dsn) {}
  pqxx::connection& conn() { return conn_; }

 private:
  pqxx::connection conn_;
};

PostgresConnection::PostgresConnection(
    std::string dsn, std::string redacted_dsn, absl::Duration statement_timeout,
    absl::Duration call_timeout, absl::Duration idle_in_transaction_timeout)
    : dsn_(std::move(dsn)),
      redacted_dsn_(std::move(redacted_dsn)),
      statement_timeout_(statement_timeout),
      idle_in_transaction_timeout_(idle_in_transaction_timeout >
                                           absl::ZeroDuration()
                                       ? idle_in_transaction_timeout
                                       : statement_timeout),
      watchdog_(call_timeout) {}

PostgresConnection::~PostgresConnection() = default;

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresConnection::Open(
    std::string dsn, std::string redacted_dsn, absl::Duration statement_timeout,
    absl::Duration call_timeout, absl::Duration idle_in_transaction_timeout) {
  auto connection = std::unique_ptr<PostgresConnection>(new PostgresConnection(
      std::move(dsn), std::move(redacted_dsn), statement_timeout, call_timeout,
      idle_in_transaction_timeout));
  absl::MutexLock lock(&connection->mu_);
  COHORT_ASSIGN_OR_RETURN(connection->session_, connection->OpenSession());
  return connection;
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresConnection::Connect(
    const std::string& dsn, absl::Duration statement_timeout,
    absl::Duration call_timeout, absl::Duration connect_timeout,
    absl::Duration idle_in_transaction_timeout) {
  COHORT_ASSIGN_OR_RETURN(std::string redacted, RedactDsn(dsn));
  COHORT_ASSIGN_OR_RETURN(std::string bounded,
                          WithConnectTimeout(dsn, connect_timeout));
  return Open(std::move(bounded), std::move(redacted), statement_timeout,
              call_timeout, idle_in_transaction_timeout);
}

absl::StatusOr<std::unique_ptr<PostgresConnection::Session>>
PostgresConnection::OpenSession() {
  std::unique_ptr<Session> session;
  bool stalled = false;
  try {
    session = std::make_unique<Session>(dsn_);
    watchdog_.Arm(session->conn().sock());
    pqxx::nontransaction txn(session->conn());
    // NOTICEs ("relation already exists, skipping") would go to stderr.
    txn.exec("SET client_min_messages TO warning");
    // Any value > 0 makes float8 output shortest-exact, so metrics read
    // back bit for bit whatever the server's default.
    txn.exec("SET extra_float_digits TO 3");
    if (statement_timeout_ > absl::ZeroDuration()) {
      txn.exec(absl::StrCat("SET statement_timeout TO ",
                            Milliseconds(statement_timeout_)));
    }
    if (idle_in_transaction_timeout_ > absl::ZeroDuration()) {
      txn.exec(absl::StrCat("SET idle_in_transaction_session_timeout TO ",
                            Milliseconds(idle_in_transaction_timeout_)));
    }
    txn.commit();
  } catch (...) {
    stalled = watchdog_.Disarm();
    PgError error = PgErrorFromCurrentException("connect");
    if (!stalled && !error.connection_lost) return error.status;
    if (!stalled) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to PostgreSQL (", redacted_dsn_,
                       "): ", error.message));
    }
  }
  // Answered in time, unless the socket was shut down even so.
  if (!stalled && !watchdog_.Disarm()) return session;
  return absl::UnavailableError(absl::StrCat(
      "cannot connect to PostgreSQL (", redacted_dsn_, "): no answer within ",
      absl::FormatDuration(watchdog_.limit()), "; the connection was closed"));
}

absl::Status PostgresConnection::Stalled(absl::string_view what,
                                         bool outcome_unknown) const {
  return absl::UnavailableError(absl::StrCat(
      what, ": no answer from PostgreSQL (", redacted_dsn_, ") within ",
      absl::FormatDuration(watchdog_.limit()), "; the connection was closed",
      outcome_unknown ? " during COMMIT, outcome unknown" : ""));
}

absl::Status PostgresConnection::Run(
    absl::string_view what,
    absl::FunctionRef<absl::Status(pqxx::connection_base&)> body) {
  absl::MutexLock lock(&mu_);
  for (int attempt = 1;; ++attempt) {
    if (session_ == nullptr) {
      COHORT_ASSIGN_OR_RETURN(session_, OpenSession());
    }
    watchdog_.Arm(session_->conn().sock());
    try {
      absl::Status status = body(session_->conn());
      // Answered in time, but if the socket was shut down just after, the
      // connection is unusable.
      if (watchdog_.Disarm()) session_.reset();
      return status;
    } catch (...) {
      const bool stalled = watchdog_.Disarm();
      PgError error = PgErrorFromCurrentException(what);
      if (!stalled && !error.connection_lost) return error.status;
      session_.reset();
      if (stalled) return Stalled(what, error.outcome_unknown);
      if (attempt >= 2 || error.outcome_unknown) return error.status;
      LOG(WARNING) << "lost connection to PostgreSQL (" << redacted_dsn_
                   << "), reconnecting: " << error.message;
    }
  }
}

}  // namespace cohort::server
