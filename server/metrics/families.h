#ifndef COHORT_SERVER_METRICS_FAMILIES_H_
#define COHORT_SERVER_METRICS_FAMILIES_H_

#include <string>

#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace cohort::server {

// Registers a metric family whose every series carries the coordinator's
// task as the constant label task="<task>", the one labelling rule of the
// coordinator's metrics.
template <typename T>
prometheus::Family<T>& MakeFamily(prometheus::detail::Builder<T> builder,
                                  prometheus::Registry& registry,
                                  const std::string& task, const char* name,
                                  const char* help) {
  return builder.Name(name).Help(help).Labels({{"task", task}}).Register(
      registry);
}

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_FAMILIES_H_
