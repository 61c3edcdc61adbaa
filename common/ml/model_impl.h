#ifndef COHORT_COMMON_ML_MODEL_IMPL_H_
#define COHORT_COMMON_ML_MODEL_IMPL_H_

// Internal to common/ml: the state behind Model's pimpl, shared by model.cc
// (lifecycle, weights) and train.cc (training, evaluation).

#include <memory>
#include <string>

#include "common/ml/model.h"
#include "common/ml/network.h"

namespace cohort::ml {

struct Model::Impl {
  std::string architecture;
  std::shared_ptr<internal::Network> network;
};

}  // namespace cohort::ml

#endif  // COHORT_COMMON_ML_MODEL_IMPL_H_
