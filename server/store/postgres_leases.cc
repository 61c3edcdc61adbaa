#include "server/store/postgres_leases.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "server/store/postgres_util.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

constexpr char kLeaseColumns[] =
    "holder, epoch, expires_at > clock_timestamp()";

LeaseInfo InfoFromRow(const pqxx::row& row) {
  LeaseInfo info;
  info.holder = row[0].as<std::string>();
  info.epoch = row[1].as<int64_t>();
  info.live = row[2].as<bool>();
  return info;
}

// Milliseconds of `ttl` for an interval; at least 1.
int64_t TtlMs(absl::Duration ttl) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(ttl));
}

absl::Status CheckLeaseArguments(const std::string& task,
                                 const std::string& holder,
                                 absl::Duration ttl) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  COHORT_RETURN_IF_ERROR(ValidateLeaseHolder(holder));
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease ttl must be positive, got ", absl::FormatDuration(ttl)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresLeases>> PostgresLeases::Connect(
    const std::string& dsn, absl::Duration statement_timeout,
    absl::Duration call_timeout) {
  COHORT_ASSIGN_OR_RETURN(
      std::unique_ptr<PostgresConnection> connection,
      PostgresConnection::Connect(dsn, statement_timeout, call_timeout,
                                  call_timeout));
  return std::unique_ptr<PostgresLeases>(
      new PostgresLeases(std::move(connection)));
}

absl::StatusOr<std::optional<Lease>> PostgresLeases::TryAcquire(
    const std::string& task, const std::string& holder, absl::Duration ttl,
    LeaseInfo* current) {
  COHORT_RETURN_IF_ERROR(CheckLeaseArguments(task, holder, ttl));
  std::optional<Lease> granted;
  LeaseInfo held;
  COHORT_RETURN_IF_ERROR(connection_->Run(
      "TryAcquire", [&](pqxx::connection_base& conn) -> absl::Status {
        granted.reset();
        pqxx::work txn(conn, "acquire_lease");
        // A task's first grant needs a row to lock; it starts expired at
        // epoch 0, so the first lease is epoch 1.
        txn.exec_params(
            "INSERT INTO task_leases (task, holder, epoch, expires_at, "
            "acquired_at) VALUES ($1, '', 0, '-infinity', '-infinity') "
            "ON CONFLICT (task) DO NOTHING",
            task);
        // FOR UPDATE waits for every write that holds the row FOR KEY SHARE
        // (CheckLeaseFence), so such a write lands before this grant.
        held = InfoFromRow(txn.exec_params1(
            absl::StrCat("SELECT ", kLeaseColumns,
                         " FROM task_leases WHERE task = $1 FOR UPDATE"),
            task));
        if (held.live) {
          txn.commit();
          return absl::OkStatus();
        }
        pqxx::row row = txn.exec_params1(
            "UPDATE task_leases SET holder = $2, epoch = epoch + 1, "
            "expires_at = clock_timestamp() + $3 * interval '1 millisecond', "
            "acquired_at = clock_timestamp() WHERE task = $1 RETURNING epoch",
            task, holder, TtlMs(ttl));
        txn.commit();
        granted = Lease{task, holder, row[0].as<int64_t>()};
        return absl::OkStatus();
      }));
  if (!granted.has_value() && current != nullptr) *current = held;
  return granted;
}

absl::Status PostgresLeases::Renew(const Lease& lease, absl::Duration ttl) {
  COHORT_RETURN_IF_ERROR(CheckLeaseArguments(lease.task, lease.holder, ttl));
  bool renewed = false;
  std::optional<LeaseInfo> now;
  COHORT_RETURN_IF_ERROR(connection_->Run(
      "Renew", [&](pqxx::connection_base& conn) -> absl::Status {
        now.reset();
        pqxx::work txn(conn, "renew_lease");
        // A plain UPDATE takes the row FOR NO KEY UPDATE, which does not
        // wait for the holder's own writes past the fence.
        pqxx::result updated = txn.exec_params(
            "UPDATE task_leases SET expires_at = clock_timestamp() + "
            "$3 * interval '1 millisecond' WHERE task = $1 AND epoch = $2 "
            "AND expires_at > clock_timestamp()",
            lease.task, lease.epoch, TtlMs(ttl));
        renewed = updated.affected_rows() == 1;
        if (!renewed) {
          pqxx::result rows =
              txn.exec_params(absl::StrCat("SELECT ", kLeaseColumns,
                                           " FROM task_leases WHERE task = $1"),
                              lease.task);
          if (!rows.empty()) now = InfoFromRow(rows[0]);
        }
        txn.commit();
        return absl::OkStatus();
      }));
  if (renewed) return absl::OkStatus();
  return LeaseLostError(lease.task, lease.epoch, now);
}

absl::Status PostgresLeases::Release(const Lease& lease) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(lease.task, "task name"));
  return connection_->Run(
      "Release", [&](pqxx::connection_base& conn) -> absl::Status {
        pqxx::work txn(conn, "release_lease");
        txn.exec_params(
            "UPDATE task_leases SET expires_at = clock_timestamp() "
            "WHERE task = $1 AND epoch = $2 "
            "AND expires_at > clock_timestamp()",
            lease.task, lease.epoch);
        txn.commit();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::optional<LeaseInfo>> PostgresLeases::Get(
    const std::string& task) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(task, "task name"));
  std::optional<LeaseInfo> out;
  COHORT_RETURN_IF_ERROR(connection_->Run(
      "GetLease", [&](pqxx::connection_base& conn) -> absl::Status {
        out.reset();
        pqxx::read_transaction txn(conn, "get_lease");
        pqxx::result rows = txn.exec_params(
            absl::StrCat("SELECT ", kLeaseColumns,
                         " FROM task_leases WHERE task = $1 AND epoch > 0"),
            task);
        if (!rows.empty()) out = InfoFromRow(rows[0]);
        txn.commit();
        return absl::OkStatus();
      }));
  return out;
}

absl::Status CheckLeaseFence(pqxx::transaction_base& txn,
                             const std::string& task, int64_t epoch) {
  pqxx::result rows = txn.exec_params(
      absl::StrCat("SELECT ", kLeaseColumns,
                   " FROM task_leases WHERE task = $1 AND epoch > 0 "
                   "FOR KEY SHARE"),
      task);
  std::optional<LeaseInfo> stored;
  if (!rows.empty()) stored = InfoFromRow(rows[0]);
  return CheckLeaseEpoch(task, stored, epoch);
}

}  // namespace cohort::server
