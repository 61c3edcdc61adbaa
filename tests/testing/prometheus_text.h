#ifndef COHORT_TESTS_TESTING_PROMETHEUS_TEXT_H_
#define COHORT_TESTS_TESTING_PROMETHEUS_TEXT_H_

#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace cohort::testing {

using SampleLabels = std::map<std::string, std::string>;

// The value of the sample named `name` with exactly the labels `labels` (in
// any order) in a Prometheus text exposition, or nullopt when there is none
// or its line does not parse. Comment lines (# HELP, # TYPE) are skipped.
std::optional<double> SampleValue(absl::string_view exposition,
                                  absl::string_view name,
                                  const SampleLabels& labels);

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_PROMETHEUS_TEXT_H_
