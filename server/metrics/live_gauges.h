#ifndef COHORT_SERVER_METRICS_LIVE_GAUGES_H_
#define COHORT_SERVER_METRICS_LIVE_GAUGES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"
#include "server/round/published_model.h"

namespace cohort::server {

// The public port's connection counters (FrontDoor::Counters) at one moment.
struct ConnectionCounts {
  int64_t accepted = 0;
  // Accepted and closed at once: over a limit, or gRPC unreachable.
  int64_t refused = 0;
  // Closed while descriptors ran out (EMFILE / ENFILE).
  int64_t shed = 0;
  int64_t open = 0;
  // Open and still young enough to be in their TLS handshake.
  int64_t unauthenticated = 0;
};

// What the coordinator is now, read at every scrape.
struct LiveState {
  // The current release's version (RoundEngine::current_model); null before
  // the engine started.
  std::shared_ptr<const PublishedModel> model;
  bool paused = false;
  // Unset without a public port.
  std::optional<ConnectionCounts> connections;
};

// The coordinator's Prometheus metrics that are read, not counted: each
// scrape asks `source` for a LiveState and reports it, so a rollback by hand,
// a re-signed release or a pause shows at once, without a round ending.
// Every series carries task="<task>".
//
//   cohort_model_version                    gauge; the current version.
//   cohort_model_release                    gauge; its release number (0
//       when releases are not signed).
//   cohort_release_pinned                   gauge; 1 while an operator's pin
//       holds new versions back.
//   cohort_task_paused                      gauge; 1 while paused.
//   cohort_holdout_accuracy_ratio           gauge; the current version's
//       holdout accuracy (its "test_accuracy" metric; absent without one).
//   cohort_holdout_loss                     gauge; its holdout mean loss
//       ("test_loss").
//   cohort_connections_accepted_total       counter; public port.
//   cohort_connections_refused_total        counter.
//   cohort_connections_shed_total           counter.
//   cohort_connections_open                 gauge.
//   cohort_connections_unauthenticated      gauge.
//
// Thread-safe if `source` is: Collect runs on the HTTP server's threads.
class LiveGauges : public prometheus::Collectable {
 public:
  using Source = std::function<LiveState()>;

  LiveGauges(std::string task, Source source);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  void AddModel(const PublishedModel& model,
                std::vector<prometheus::MetricFamily>& out) const;
  void AddConnections(const ConnectionCounts& counts,
                      std::vector<prometheus::MetricFamily>& out) const;
  // One family holding one series, task="<task_>", of `value`.
  prometheus::MetricFamily One(const char* name, const char* help,
                               prometheus::MetricType type,
                               double value) const;

  const std::string task_;
  const Source source_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_LIVE_GAUGES_H_
