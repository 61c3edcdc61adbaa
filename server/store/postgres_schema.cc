#include "server/store/postgres_schema.h"

#include <cstdint>
#include <iterator>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/store/postgres_util.h"

namespace cohort::server {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, "model history, metrics, current pointers and devices", R"sql(
CREATE TABLE model_versions (
  task          TEXT   NOT NULL,
  version       BIGINT NOT NULL,
  parent        BIGINT NOT NULL,
  round_id      BIGINT NOT NULL,
  architecture  TEXT   NOT NULL,
  created_at_ms BIGINT NOT NULL,
  weights       BYTEA  NOT NULL,
  PRIMARY KEY (task, version),
  CHECK (parent >= 0 AND version > parent)
);
CREATE TABLE model_version_metrics (
  task    TEXT             NOT NULL,
  version BIGINT           NOT NULL,
  name    TEXT             NOT NULL,
  value   DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (task, version, name),
  FOREIGN KEY (task, version) REFERENCES model_versions (task, version)
);
CREATE TABLE current_version (
  task    TEXT   PRIMARY KEY,
  version BIGINT NOT NULL,
  FOREIGN KEY (task, version) REFERENCES model_versions (task, version)
);
CREATE TABLE devices (
  device_id        TEXT   PRIMARY KEY,
  last_seen_ms     BIGINT NOT NULL,
  check_ins        BIGINT NOT NULL DEFAULT 0,
  reports_accepted BIGINT NOT NULL DEFAULT 0,
  reports_rejected BIGINT NOT NULL DEFAULT 0
);
)sql"},
    {2, "release log and current release pointers", R"sql(
CREATE TABLE releases (
  task            TEXT   NOT NULL,
  release         BIGINT NOT NULL,
  version         BIGINT NOT NULL,
  kind            TEXT   NOT NULL,
  reason          TEXT   NOT NULL,
  actor           TEXT   NOT NULL,
  created_at_ms   BIGINT NOT NULL,
  signed_manifest BYTEA  NOT NULL,
  PRIMARY KEY (task, release),
  FOREIGN KEY (task, version) REFERENCES model_versions (task, version),
  CHECK (release >= 1),
  CHECK (kind IN ('promote', 'rollback', 'pin')),
  CHECK (octet_length(signed_manifest) > 0)
);
CREATE TABLE current_release (
  task    TEXT   PRIMARY KEY,
  release BIGINT NOT NULL,
  FOREIGN KEY (task, release) REFERENCES releases (task, release)
);
)sql"},
    {3, "versions held by the regression gate", R"sql(
ALTER TABLE model_versions ADD COLUMN held BOOLEAN NOT NULL DEFAULT false;
)sql"},
    {4, "single-use device enrollment tokens, by SHA-256", R"sql(
CREATE TABLE enrollment_tokens (
  token_sha256 TEXT   PRIMARY KEY,
  device_id    TEXT   NOT NULL,
  created_ms   BIGINT NOT NULL,
  expires_ms   BIGINT NOT NULL,
  created_by   TEXT   NOT NULL,
  used_ms      BIGINT NOT NULL DEFAULT 0
);
)sql"},
    {5, "server optimizer state stored with each version", R"sql(
ALTER TABLE model_versions
  ADD COLUMN optimizer_state BYTEA NOT NULL DEFAULT ''::bytea;
)sql"},
    {6, "task leases and the lease epoch of each write", R"sql(
CREATE TABLE task_leases (
  task        TEXT        PRIMARY KEY,
  holder      TEXT        NOT NULL,
  epoch       BIGINT      NOT NULL,
  expires_at  TIMESTAMPTZ NOT NULL,
  acquired_at TIMESTAMPTZ NOT NULL,
  CHECK (epoch >= 0)
);
ALTER TABLE model_versions ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
)sql"},
};

constexpr char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     INTEGER     PRIMARY KEY,
  description TEXT        NOT NULL,
  applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
))sql";

// One lock per schema, held until the end of the transaction: start-ups
// against the same schema take turns, other schemas are not blocked.
void LockMigrations(pqxx::transaction_base& txn) {
  txn.exec(
      "SELECT pg_advisory_xact_lock(hashtextextended("
      "'cohort.schema_migrations/' || COALESCE(current_schema(), ''), 0))");
}

}  // namespace

int LatestSchemaVersion() { return std::end(kMigrations)[-1].version; }

absl::Status ApplyMigrations(pqxx::connection_base& conn) {
  try {
    int64_t applied = 0;
    {
      pqxx::work txn(conn, "schema_migrations");
      LockMigrations(txn);
      txn.exec(kCreateMigrationsTable);
      applied = txn.exec1(
                       "SELECT COALESCE(MAX(version), 0) "
                       "FROM schema_migrations")[0]
                    .as<int64_t>();
      txn.commit();
    }
    if (applied > LatestSchemaVersion()) {
      return absl::FailedPreconditionError(
          absl::StrCat("database schema is at migration ", applied,
                       " but this binary knows only up to ",
                       LatestSchemaVersion(), "; run a newer binary"));
    }
    for (const Migration& m : kMigrations) {
      pqxx::work txn(conn, "migration");
      LockMigrations(txn);
      // Re-checked under the lock: another process may have applied it.
      if (!txn.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1",
                           m.version)
               .empty()) {
        txn.commit();
        continue;
      }
      txn.exec(m.sql);
      txn.exec_params(
          "INSERT INTO schema_migrations (version, description) "
          "VALUES ($1, $2)",
          m.version, m.description);
      txn.commit();
      LOG(INFO) << "applied PostgreSQL schema migration " << m.version << ": "
                << m.description;
    }
    return absl::OkStatus();
  } catch (...) {
    return PgErrorFromCurrentException("schema migration").status;
  }
}

}  // namespace cohort::server
