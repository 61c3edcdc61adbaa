#ifndef COHORT_SERVER_STORE_POSTGRES_LEASES_H_
#define COHORT_SERVER_STORE_POSTGRES_LEASES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/lease_table.h"
#include "server/store/postgres_connection.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace cohort::server {

// Task leases in the task_leases table of schema migration 6
// (postgres_schema.h), on a connection of their own so that a renewal never
// waits behind a long commit on the store's connection. Expiry is judged by
// PostgreSQL's clock_timestamp(). Rows are never deleted: Release only ends
// the lease, so a task's epochs only grow.
//
// Row locks make a grant and a fenced write exclusive: CheckLeaseFence
// reads the lease row FOR KEY SHARE inside the write's transaction, a grant
// reads it FOR UPDATE (which waits for such a write to end), and a renewal
// is a plain UPDATE (which does not wait for one). A write that passed the
// fence therefore lands before the next holder reads the store, and a write
// that reaches the fence after a grant is refused.
class PostgresLeases final : public LeaseTable {
 public:
  // Connects to the database of a PostgresStore (whose Connect applies the
  // migrations that create the table; without them calls fail with
  // INTERNAL). Timeouts and codes as PostgresStore::Connect.
  static absl::StatusOr<std::unique_ptr<PostgresLeases>> Connect(
      const std::string& dsn, absl::Duration statement_timeout,
      absl::Duration call_timeout);

  absl::StatusOr<std::optional<Lease>> TryAcquire(const std::string& task,
                                                  const std::string& holder,
                                                  absl::Duration ttl,
                                                  LeaseInfo* current) override;
  absl::Status Renew(const Lease& lease, absl::Duration ttl) override;
  absl::Status Release(const Lease& lease) override;
  absl::StatusOr<std::optional<LeaseInfo>> Get(
      const std::string& task) override;

 private:
  explicit PostgresLeases(std::unique_ptr<PostgresConnection> connection)
      : connection_(std::move(connection)) {}

  std::unique_ptr<PostgresConnection> connection_;
};

// The fence of a write to `task` carrying `epoch`, inside the write's
// transaction: reads the task's lease row FOR KEY SHARE (held to the end of
// the transaction) and applies CheckLeaseEpoch (store_util.h).
absl::Status CheckLeaseFence(pqxx::transaction_base& txn,
                             const std::string& task, int64_t epoch);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_POSTGRES_LEASES_H_
