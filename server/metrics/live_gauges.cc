#include "server/metrics/live_gauges.h"

#include <utility>

namespace cohort::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// The holdout metrics the TaskModel evaluates every version on
// (MlTaskModel::Evaluate).
constexpr char kHoldoutAccuracy[] = "test_accuracy";
constexpr char kHoldoutLoss[] = "test_loss";

}  // namespace

LiveGauges::LiveGauges(std::string task, Source source)
    : task_(std::move(task)), source_(std::move(source)) {}

std::vector<MetricFamily> LiveGauges::Collect() const {
  const LiveState state = source_();
  std::vector<MetricFamily> out;
  out.push_back(One("cohort_task_paused",
                    "1 while an operator has paused the task, else 0.",
                    MetricType::Gauge, state.paused ? 1 : 0));
  if (state.model != nullptr) AddModel(*state.model, out);
  if (state.connections.has_value()) AddConnections(*state.connections, out);
  return out;
}

void LiveGauges::AddModel(const PublishedModel& model,
                          std::vector<MetricFamily>& out) const {
  out.push_back(One("cohort_model_version",
                    "The model version devices are given now.",
                    MetricType::Gauge, static_cast<double>(model.version)));
  out.push_back(One("cohort_model_release",
                    "The release number of that version; 0 when releases "
                    "are not signed.",
                    MetricType::Gauge, static_cast<double>(model.release)));
  out.push_back(One("cohort_release_pinned",
                    "1 while an operator's pin holds new versions back, "
                    "else 0.",
                    MetricType::Gauge, model.pinned ? 1 : 0));
  if (auto it = model.metrics.find(kHoldoutAccuracy);
      it != model.metrics.end()) {
    out.push_back(One("cohort_holdout_accuracy_ratio",
                      "Holdout accuracy of the current version.",
                      MetricType::Gauge, it->second));
  }
  if (auto it = model.metrics.find(kHoldoutLoss); it != model.metrics.end()) {
    out.push_back(One("cohort_holdout_loss",
                      "Holdout mean loss of the current version.",
                      MetricType::Gauge, it->second));
  }
}

void LiveGauges::AddConnections(const ConnectionCounts& c,
                                std::vector<MetricFamily>& out) const {
  out.push_back(One("cohort_connections_accepted_total",
                    "Device connections accepted on the public port.",
                    MetricType::Counter, static_cast<double>(c.accepted)));
  out.push_back(One("cohort_connections_refused_total",
                    "Connections closed at once: over a connection limit, or "
                    "gRPC unreachable.",
                    MetricType::Counter, static_cast<double>(c.refused)));
  out.push_back(One("cohort_connections_shed_total",
                    "Connections closed because descriptors ran out.",
                    MetricType::Counter, static_cast<double>(c.shed)));
  out.push_back(One("cohort_connections_open", "Device connections open now.",
                    MetricType::Gauge, static_cast<double>(c.open)));
  out.push_back(One("cohort_connections_unauthenticated",
                    "Open connections young enough to be in their TLS "
                    "handshake.",
                    MetricType::Gauge,
                    static_cast<double>(c.unauthenticated)));
}

MetricFamily LiveGauges::One(const char* name, const char* help,
                             MetricType type, double value) const {
  prometheus::ClientMetric metric;
  metric.label.push_back({"task", task_});
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace cohort::server
