#ifndef COHORT_CLIENT_TRAIN_FIELD_SUMMARY_H_
#define COHORT_CLIENT_TRAIN_FIELD_SUMMARY_H_

#include <optional>

#include "cohort/v1/coordinator.pb.h"
#include "common/data/dataset.h"
#include "common/ml/model.h"

namespace cohort::client {

// Field monitoring's summary (cohort.v1.FieldSummary, laid out as
// secagg::ImageFieldLayout) of the examples in `data` and of a model's
// predictions on them, `evaluation` being that model's evaluation of
// `data`: shares of predictions per class and per confidence bin, and per
// 4x4-pixel patch the mean over examples of the patch's mean intensity
// (pixel / 255) and of its square. nullopt for data that is not 28x28 or
// empty, or an evaluation whose counts do not match the data (other
// sizes, or counts that do not add up to the examples).
std::optional<cohort::v1::FieldSummary> SummarizeField(
    const data::ImageDataset& data, const ml::EvalResult& evaluation);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_FIELD_SUMMARY_H_
