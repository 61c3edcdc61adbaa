#ifndef COHORT_SERVER_METRICS_DEVICE_API_METRICS_H_
#define COHORT_SERVER_METRICS_DEVICE_API_METRICS_H_

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "server/round/device_api_counters.h"

namespace cohort::server {

// DeviceApiCounters as Prometheus counters, registered in a registry the
// caller owns (the metrics server collects it). Every series carries
// task="<task>"; each label takes the fixed words DeviceApiCounters lists.
//
//   cohort_check_ins_total{result}          counter; check-ins answered:
//       assigned, the retry causes not_selecting, round_full,
//       already_assigned and paused, or refused.
//   cohort_messages_rejected_total{kind,reason}  counter; reports and
//       SecAgg messages the round did not take: kind report or secagg,
//       reason malformed, not_in_round, no_assignment, late or other.
//   cohort_device_api_bytes_total{rpc,direction}  counter; serialized
//       message bytes, rpc participate or fetch_model, direction in or out.
//
// Thread-safe (prometheus-cpp counters are atomic; Family::Add locks).
// Not copyable or movable: it holds references into the registry.
class DeviceApiMetrics final : public DeviceApiCounters {
 public:
  DeviceApiMetrics(const std::string& task, prometheus::Registry& registry);
  DeviceApiMetrics(const DeviceApiMetrics&) = delete;
  DeviceApiMetrics& operator=(const DeviceApiMetrics&) = delete;

  void CheckIn(absl::string_view result) override;
  void Rejected(absl::string_view kind, absl::string_view reason) override;
  void Bytes(absl::string_view rpc, absl::string_view direction,
             int64_t bytes) override;

 private:
  prometheus::Family<prometheus::Counter>& check_ins_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& bytes_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_DEVICE_API_METRICS_H_
