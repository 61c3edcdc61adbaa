#ifndef COHORT_COMMON_DATA_DATASET_H_
#define COHORT_COMMON_DATA_DATASET_H_

#include <cstdint>
#include <vector>

namespace cohort::data {

// A labelled set of greyscale images held in memory, row-major, one byte per
// pixel. Plain data: copyable, no invariants beyond the sizes below.
struct ImageDataset {
  int64_t num_examples = 0;
  int height = 0;
  int width = 0;
  int num_classes = 10;
  // num_examples * height * width bytes.
  std::vector<uint8_t> images;
  // num_examples labels in [0, num_classes).
  std::vector<uint8_t> labels;
};

// The examples of `source` at `indices`, in that order. Indices must be valid.
ImageDataset Subset(const ImageDataset& source,
                    const std::vector<int64_t>& indices);

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_DATASET_H_
