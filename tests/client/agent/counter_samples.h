#ifndef COHORT_TESTS_CLIENT_AGENT_COUNTER_SAMPLES_H_
#define COHORT_TESTS_CLIENT_AGENT_COUNTER_SAMPLES_H_

// Reading the agent's counters back in tests.

#include <string>

#include "tests/testing/prometheus_text.h"

namespace cohort::client {

// The sample `name` with exactly `labels` in `text`; -1 when absent.
inline double Sample(const std::string& text, const std::string& name,
                     const ::cohort::testing::SampleLabels& labels = {}) {
  return ::cohort::testing::SampleValue(text, name, labels).value_or(-1);
}

// A message's serialized size, as the counters count bytes.
template <typename Message>
double SizeOf(const Message& m) {
  return static_cast<double>(m.ByteSizeLong());
}

}  // namespace cohort::client

#endif  // COHORT_TESTS_CLIENT_AGENT_COUNTER_SAMPLES_H_
