#ifndef COHORT_TESTS_COMMON_ML_LOGITS_H_
#define COHORT_TESTS_COMMON_ML_LOGITS_H_

// Comparing two runtimes' logits ([N * 10], row-major) for tests.

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/data/dataset.h"

namespace cohort::ml::testing {

// The largest element-wise difference; infinity when the sizes differ.
inline float MaxDifference(const std::vector<float>& a,
                           const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  float most = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    most = std::max(most, std::fabs(a[i] - b[i]));
  }
  return most;
}

inline std::vector<int> Predictions(const std::vector<float>& logits) {
  std::vector<int> out;
  for (size_t i = 0; i + 10 <= logits.size(); i += 10) {
    out.push_back(static_cast<int>(
        std::max_element(logits.begin() + i, logits.begin() + i + 10) -
        (logits.begin() + i)));
  }
  return out;
}

inline double Agreement(const std::vector<int>& a, const std::vector<int>& b) {
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / a.size();
}

inline double Accuracy(const std::vector<int>& predictions,
                const data::ImageDataset& data) {
  int right = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    right += predictions[i] == data.labels[i];
  }
  return static_cast<double>(right) / predictions.size();
}

}  // namespace cohort::ml::testing

#endif  // COHORT_TESTS_COMMON_ML_LOGITS_H_
