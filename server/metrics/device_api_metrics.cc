#include "server/metrics/device_api_metrics.h"

#include <string>

#include "server/metrics/families.h"

namespace cohort::server {

DeviceApiMetrics::DeviceApiMetrics(const std::string& task,
                                   prometheus::Registry& registry)
    : check_ins_(MakeFamily(
          prometheus::BuildCounter(), registry, task, "cohort_check_ins_total",
          "Check-ins answered, by result: assigned, a retry cause "
          "(not_selecting, round_full, already_assigned, paused), refused, "
          "store_unavailable or timed_out.")),
      rejected_(MakeFamily(
          prometheus::BuildCounter(), registry, task,
          "cohort_messages_rejected_total",
          "Reports and SecAgg messages the round did not take, by kind "
          "(report, secagg) and reason (malformed, not_in_round, "
          "no_assignment, late, timed_out, other).")),
      bytes_(MakeFamily(prometheus::BuildCounter(), registry, task,
                        "cohort_device_api_bytes_total",
                        "Serialized message bytes on the device API, by rpc "
                        "(participate, fetch_model) and direction (in, out).")) {
  // The common series from zero, so rate() sees their first increment.
  for (const char* result : {"assigned", "not_selecting", "round_full"}) {
    check_ins_.Add({{"result", result}});
  }
  for (const char* rpc : {"participate", "fetch_model"}) {
    for (const char* direction : {"in", "out"}) {
      bytes_.Add({{"rpc", rpc}, {"direction", direction}});
    }
  }
}

void DeviceApiMetrics::CheckIn(absl::string_view result) {
  check_ins_.Add({{"result", std::string(result)}}).Increment();
}

void DeviceApiMetrics::Rejected(absl::string_view kind,
                                absl::string_view reason) {
  rejected_.Add({{"kind", std::string(kind)}, {"reason", std::string(reason)}})
      .Increment();
}

void DeviceApiMetrics::Bytes(absl::string_view rpc,
                             absl::string_view direction, int64_t bytes) {
  bytes_.Add({{"rpc", std::string(rpc)}, {"direction", std::string(direction)}})
      .Increment(static_cast<double>(bytes));
}

}  // namespace cohort::server
