#ifndef COHORT_TESTS_TESTING_FIELD_SUMMARIES_H_
#define COHORT_TESTS_TESTING_FIELD_SUMMARIES_H_

#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/field_encoding.h"

namespace cohort::testing {

// A valid summary under secagg::ImageFieldLayout: every prediction class
// `top`, every confidence in bin `bin`, every feature's mean `level` and
// variance `variance`.
inline cohort::v1::FieldSummary ImageSummary(int top, int bin, double level,
                                             double variance) {
  const secagg::FieldLayout l = secagg::ImageFieldLayout();
  cohort::v1::FieldSummary s;
  for (int c = 0; c < l.classes; ++c) {
    s.add_prediction_fraction(c == top ? 1.0 : 0.0);
  }
  for (int b = 0; b < l.confidence_bins; ++b) {
    s.add_confidence_fraction(b == bin ? 1.0 : 0.0);
  }
  for (int f = 0; f < l.features; ++f) {
    s.add_feature_mean(level);
    s.add_feature_mean_square(level * level + variance);
  }
  return s;
}

// A field evaluation of `version` with ImageSummary(top, bin, level,
// variance).
inline cohort::v1::FieldEvaluation ImageEvaluation(int64_t version,
                                                   double accuracy, int top,
                                                   double level) {
  cohort::v1::FieldEvaluation e;
  e.set_version(version);
  e.set_num_examples(50);
  e.set_loss(0.5);
  e.set_accuracy(accuracy);
  *e.mutable_summary() = ImageSummary(top, 9, level, 0.01);
  return e;
}

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FIELD_SUMMARIES_H_
