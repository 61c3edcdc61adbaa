// PostgresStore's device rows: the devices table of schema migration 1
// (postgres_schema.cc).

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "server/store/device_page.h"
#include "server/store/postgres_store.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

constexpr char kDeviceColumns[] =
    "device_id, last_seen_ms, check_ins, reports_accepted, reports_rejected";

// A record from the kDeviceColumns of `row`.
DeviceRecord DeviceFromRow(const pqxx::row& row) {
  DeviceRecord d;
  d.device_id = row[0].as<std::string>();
  d.last_seen_unix_ms = row[1].as<int64_t>();
  d.check_ins = row[2].as<int64_t>();
  d.reports_accepted = row[3].as<int64_t>();
  d.reports_rejected = row[4].as<int64_t>();
  return d;
}

}  // namespace

absl::Status PostgresStore::RecordDevice(const std::string& device_id,
                                         int64_t seen_unix_ms,
                                         int64_t check_ins,
                                         int64_t reports_accepted,
                                         int64_t reports_rejected) {
  COHORT_RETURN_IF_ERROR(ValidateDeviceUpdate(
      device_id, check_ins, reports_accepted, reports_rejected));
  return Run("RecordDevice", [&](pqxx::connection_base& conn) -> absl::Status {
    pqxx::work txn(conn, "record_device");
    txn.exec_params(
        "INSERT INTO devices (device_id, last_seen_ms, check_ins, "
        "reports_accepted, reports_rejected) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (device_id) DO UPDATE SET "
        "last_seen_ms = EXCLUDED.last_seen_ms, "
        "check_ins = devices.check_ins + EXCLUDED.check_ins, "
        "reports_accepted = devices.reports_accepted + "
        "EXCLUDED.reports_accepted, "
        "reports_rejected = devices.reports_rejected + "
        "EXCLUDED.reports_rejected",
        device_id, seen_unix_ms, check_ins, reports_accepted, reports_rejected);
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<DeviceRecord> PostgresStore::GetDevice(
    const std::string& device_id) {
  COHORT_RETURN_IF_ERROR(ValidateStoreName(device_id, "device id"));
  DeviceRecord out;
  COHORT_RETURN_IF_ERROR(
      Run("GetDevice", [&](pqxx::connection_base& conn) -> absl::Status {
        pqxx::read_transaction txn(conn, "get_device");
        pqxx::result rows = txn.exec_params(
            absl::StrCat("SELECT ", kDeviceColumns,
                         " FROM devices WHERE device_id = $1"),
            device_id);
        txn.commit();
        if (rows.empty()) {
          return absl::NotFoundError(
              absl::StrCat("device ", device_id, " has never checked in"));
        }
        out = DeviceFromRow(rows[0]);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<DeviceRecord>> PostgresStore::ListDevices(
    const std::string& after, int limit) {
  COHORT_RETURN_IF_ERROR(ValidateDevicePage(after, limit));
  std::vector<DeviceRecord> out;
  COHORT_RETURN_IF_ERROR(
      Run("ListDevices", [&](pqxx::connection_base& conn) -> absl::Status {
        out.clear();
        pqxx::read_transaction txn(conn, "list_devices");
        // COLLATE "C": byte order, as every backend sorts device ids,
        // whatever the database's collation.
        pqxx::result rows = txn.exec_params(
            absl::StrCat("SELECT ", kDeviceColumns,
                         " FROM devices WHERE device_id COLLATE \"C\" > $1 "
                         "ORDER BY device_id COLLATE \"C\" LIMIT $2"),
            after, limit);
        txn.commit();
        for (const pqxx::row& row : rows) out.push_back(DeviceFromRow(row));
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace cohort::server
