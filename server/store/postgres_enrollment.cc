// PostgresStore's enrollment tokens: the enrollment_tokens table of schema
// migration 4 (postgres_schema.cc).

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "server/store/postgres_store.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

// A record from the token_sha256, device_id, created_ms, expires_ms,
// created_by and used_ms columns of `row`, in that order.
EnrollmentTokenRecord TokenFromRow(const pqxx::row& row) {
  EnrollmentTokenRecord t;
  t.token_sha256 = row[0].as<std::string>();
  t.device_id = row[1].as<std::string>();
  t.created_unix_ms = row[2].as<int64_t>();
  t.expires_unix_ms = row[3].as<int64_t>();
  t.created_by = row[4].as<std::string>();
  t.used_unix_ms = row[5].as<int64_t>();
  return t;
}

}  // namespace

absl::Status PostgresStore::AddEnrollmentToken(
    const EnrollmentTokenRecord& record) {
  COHORT_RETURN_IF_ERROR(ValidateEnrollmentToken(record));
  return Run(
      "AddEnrollmentToken", [&](pqxx::connection_base& conn) -> absl::Status {
        pqxx::work txn(conn, "add_enrollment_token");
        // ON CONFLICT rather than a unique_violation, whose detail would
        // quote the whole hash.
        pqxx::result inserted = txn.exec_params(
            "INSERT INTO enrollment_tokens (token_sha256, device_id, "
            "created_ms, expires_ms, created_by, used_ms) "
            "VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (token_sha256) DO NOTHING",
            record.token_sha256, record.device_id, record.created_unix_ms,
            record.expires_unix_ms, record.created_by, record.used_unix_ms);
        if (inserted.affected_rows() == 0) {
          txn.abort();
          return absl::AlreadyExistsError(absl::StrCat(
              DescribeToken(record.token_sha256), " already exists"));
        }
        txn.commit();
        return absl::OkStatus();
      });
}

absl::StatusOr<EnrollmentTokenRecord> PostgresStore::UseEnrollmentToken(
    const std::string& token_sha256, const std::string& device_id,
    int64_t now_unix_ms) {
  COHORT_RETURN_IF_ERROR(
      ValidateTokenUse(token_sha256, device_id, now_unix_ms));
  EnrollmentTokenRecord out;
  COHORT_RETURN_IF_ERROR(Run(
      "UseEnrollmentToken", [&](pqxx::connection_base& conn) -> absl::Status {
        pqxx::work txn(conn, "use_enrollment_token");
        // A concurrent use of the same token waits here until this
        // transaction ends, then reads the row as this one left it.
        pqxx::result rows = txn.exec_params(
            "SELECT token_sha256, device_id, created_ms, expires_ms, "
            "created_by, used_ms FROM enrollment_tokens "
            "WHERE token_sha256 = $1 FOR UPDATE",
            token_sha256);
        if (rows.empty()) {
          txn.abort();
          return UnknownTokenError(token_sha256);
        }
        EnrollmentTokenRecord token = TokenFromRow(rows[0]);
        absl::Status usable = CheckTokenUsable(token, device_id, now_unix_ms);
        if (!usable.ok()) {
          txn.abort();
          return usable;
        }
        txn.exec_params(
            "UPDATE enrollment_tokens SET used_ms = $2 "
            "WHERE token_sha256 = $1",
            token_sha256, now_unix_ms);
        txn.commit();
        token.used_unix_ms = now_unix_ms;
        out = std::move(token);
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace cohort::server
