#include "server/store/postgres_util.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <pqxx/except>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace cohort::server {
namespace {

// libpq messages span lines ("...failed: Connection refused\n\tIs the server
// running...\n"); status messages and log lines should not.
std::string OneLine(absl::string_view text) {
  std::string s = absl::StrReplaceAll(text, {{"\n\t", " "}, {"\n", " "}});
  return std::string(absl::StripAsciiWhitespace(s));
}

PgError Make(absl::StatusCode code, absl::string_view context,
             absl::string_view what) {
  PgError e;
  e.message = OneLine(what);
  e.status = absl::Status(code, absl::StrCat(context, ": ", e.message));
  return e;
}

bool IsConnectionSqlState(const std::string& state) {
  // Class 08 is "connection exception"; 57P01..57P03 mean the server is
  // shutting down or terminated this backend.
  return absl::StartsWith(state, "08") || state == "57P01" ||
         state == "57P02" || state == "57P03";
}

std::string QuoteConninfoValue(absl::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '\'' || c == '\\') plain = false;
  }
  if (plain) return std::string(value);
  return absl::StrCat(
      "'", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
}

}  // namespace

// This is the libpqxx adapter (STYLE.md: exceptions are converted at one
// adapter per library): it rethrows the exception being handled only to
// classify it by type, and every path returns a Status.
PgError PgErrorFromCurrentException(absl::string_view context) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    PgError err = Make(absl::StatusCode::kUnavailable, context,
                       absl::StrCat("connection lost during COMMIT, outcome "
                                    "unknown: ",
                                    e.what()));
    err.connection_lost = true;
    err.outcome_unknown = true;
    return err;
  } catch (const pqxx::broken_connection& e) {
    PgError err = Make(absl::StatusCode::kUnavailable, context, e.what());
    err.connection_lost = true;
    return err;
  } catch (const pqxx::unique_violation& e) {
    return Make(absl::StatusCode::kAlreadyExists, context, e.what());
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (IsConnectionSqlState(state)) {
      PgError err = Make(absl::StatusCode::kUnavailable, context, e.what());
      err.connection_lost = true;
      return err;
    }
    if (absl::StartsWith(state, "22")) {
      return Make(absl::StatusCode::kInvalidArgument, context, e.what());
    }
    // query_canceled: the statement timeout (or an operator's
    // pg_cancel_backend). The transaction is rolled back; the connection
    // stays usable.
    if (state == "57014") {
      return Make(absl::StatusCode::kDeadlineExceeded, context, e.what());
    }
    return Make(absl::StatusCode::kInternal, context,
                absl::StrCat(e.what(), " (SQLSTATE ", state, ")"));
  } catch (const std::exception& e) {
    return Make(absl::StatusCode::kInternal, context, e.what());
  } catch (...) {
    return Make(absl::StatusCode::kInternal, context, "unknown exception");
  }
}

namespace {

// `dsn`'s options as key=value pairs, without the passwords unless
// `with_passwords`; `connect_timeout` is set to `connect_timeout` (if not
// empty) when the DSN does not set it.
absl::StatusOr<std::string> ConninfoPairs(const std::string& dsn,
                                          bool with_passwords,
                                          absl::string_view connect_timeout) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string reason = error != nullptr ? OneLine(error) : "out of memory";
    PQfreemem(error);
    return absl::InvalidArgumentError(
        absl::StrCat("invalid PostgreSQL DSN: ", reason));
  }
  std::vector<std::string> parts;
  bool has_connect_timeout = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    absl::string_view key = o->keyword;
    if (o->val == nullptr) continue;
    if (!with_passwords && (key == "password" || key == "sslpassword")) {
      continue;
    }
    if (key == "connect_timeout") has_connect_timeout = true;
    parts.push_back(absl::StrCat(key, "=", QuoteConninfoValue(o->val)));
  }
  PQconninfoFree(options);
  if (!has_connect_timeout && !connect_timeout.empty()) {
    parts.push_back(absl::StrCat("connect_timeout=", connect_timeout));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace

absl::StatusOr<std::string> RedactDsn(const std::string& dsn) {
  return ConninfoPairs(dsn, /*with_passwords=*/false, "");
}

absl::StatusOr<std::string> WithConnectTimeout(const std::string& dsn,
                                               absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return dsn;
  // libpq counts whole seconds and treats 1 as 2.
  const int64_t seconds =
      std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1))));
  return ConninfoPairs(dsn, /*with_passwords=*/true, absl::StrCat(seconds));
}

}  // namespace cohort::server
