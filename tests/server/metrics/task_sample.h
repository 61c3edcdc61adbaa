#ifndef COHORT_TESTS_SERVER_METRICS_TASK_SAMPLE_H_
#define COHORT_TESTS_SERVER_METRICS_TASK_SAMPLE_H_

#include <optional>
#include <string>

#include "prometheus/collectable.h"
#include "prometheus/text_serializer.h"
#include "tests/testing/prometheus_text.h"

namespace cohort::server {

// The sample `name` with `labels` plus task="<task>" as a scrape of
// `metrics` shows it; nullopt when absent.
inline std::optional<double> TaskSample(const prometheus::Collectable& metrics,
                                        const std::string& name,
                                        testing::SampleLabels labels,
                                        const std::string& task = "t") {
  labels["task"] = task;
  return testing::SampleValue(
      prometheus::TextSerializer().Serialize(metrics.Collect()), name, labels);
}

}  // namespace cohort::server

#endif  // COHORT_TESTS_SERVER_METRICS_TASK_SAMPLE_H_
