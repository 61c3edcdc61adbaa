#ifndef COHORT_TESTS_COMMON_ML_SQUARES_DATASET_H_
#define COHORT_TESTS_COMMON_ML_SQUARES_DATASET_H_

#include <cstdint>
#include <random>

#include "common/data/dataset.h"

namespace cohort::ml::testing {

// Class k is a bright 5x5 square at cell k of a 5-wide grid, on a noisy dark
// background; a correct model must localise the square.
inline data::ImageDataset SquaresDataset(int per_class, uint32_t seed) {
  constexpr int kSide = 28;
  std::mt19937 rng(seed);
  data::ImageDataset d;
  d.num_examples = static_cast<int64_t>(per_class) * 10;
  d.height = kSide;
  d.width = kSide;
  d.images.resize(static_cast<size_t>(d.num_examples) * kSide * kSide);
  for (int64_t i = 0; i < d.num_examples; ++i) {
    const int label = static_cast<int>(i % 10);
    d.labels.push_back(static_cast<uint8_t>(label));
    uint8_t* image = d.images.data() + i * kSide * kSide;
    for (int p = 0; p < kSide * kSide; ++p) image[p] = rng() % 60;
    const int top = 2 + (label / 5) * 12 + static_cast<int>(rng() % 3);
    const int left = 1 + (label % 5) * 5 + static_cast<int>(rng() % 2);
    for (int r = top; r < top + 5; ++r) {
      for (int c = left; c < left + 5 && c < kSide; ++c) {
        image[r * kSide + c] = 200 + rng() % 56;
      }
    }
  }
  return d;
}

}  // namespace cohort::ml::testing

#endif  // COHORT_TESTS_COMMON_ML_SQUARES_DATASET_H_
