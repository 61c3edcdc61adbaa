#ifndef COHORT_SERVER_STORE_POSTGRES_SCHEMA_H_
#define COHORT_SERVER_STORE_POSTGRES_SCHEMA_H_

// PostgresStore's schema and its migrations.
//
// Tables (created in the first schema of the connection's search_path):
//   schema_migrations     (version, description, applied_at)
//   model_versions        (task, version) pk; parent, round_id, architecture,
//                         created_at_ms, weights bytea
//   model_version_metrics (task, version, name) pk; value float8. A table
//                         rather than jsonb because JSON cannot hold NaN or
//                         infinities and float8 keeps every double exactly.
//   current_version       task pk; version references model_versions
//   devices               device_id pk; last_seen_ms, check_ins,
//                         reports_accepted, reports_rejected
//   releases              (task, release) pk; version references
//                         model_versions, kind ('promote', 'rollback',
//                         'pin'), reason, actor, created_at_ms,
//                         signed_manifest bytea (migration 2)
//   current_release       task pk; release references releases
//   enrollment_tokens     token_sha256 pk (hex); device_id, created_ms,
//                         expires_ms, created_by, used_ms (0 while
//                         unused) (migration 4)
//   task_leases           task pk; holder, epoch, expires_at, acquired_at
//                         (migration 6; postgres_leases.h). Versions and
//                         releases gain lease_epoch, the epoch they were
//                         written under (0: none).
//
// Migrations are an ordered list of SQL scripts, numbered from 1. Each is
// applied in its own transaction together with its schema_migrations row,
// under a transaction-scoped advisory lock, so concurrent start-ups apply each
// migration exactly once and a restart skips the applied ones. Never edit a
// released migration; append a new one.

#include "absl/status/status.h"

namespace pqxx {
class connection_base;
}  // namespace pqxx

namespace cohort::server {

// The number of the newest migration this binary knows.
int LatestSchemaVersion();

// Applies the migrations that the database lacks. FAILED_PRECONDITION if the
// database has a migration newer than LatestSchemaVersion() (a newer binary
// migrated it); otherwise the codes of PgErrorFromCurrentException.
absl::Status ApplyMigrations(pqxx::connection_base& conn);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_POSTGRES_SCHEMA_H_
