#include "common/data/dataset.h"

#include <cstring>

#include "glog/logging.h"

namespace cohort::data {

ImageDataset Subset(const ImageDataset& source,
                    const std::vector<int64_t>& indices) {
  const size_t pixels = static_cast<size_t>(source.height) * source.width;
  CHECK_GE(source.images.size(),
           static_cast<size_t>(source.num_examples) * pixels);
  CHECK_GE(source.labels.size(), static_cast<size_t>(source.num_examples));
  ImageDataset out;
  out.num_examples = static_cast<int64_t>(indices.size());
  out.height = source.height;
  out.width = source.width;
  out.num_classes = source.num_classes;
  out.images.resize(indices.size() * pixels);
  out.labels.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t index = indices[i];
    // An out-of-range index is a caller bug, not bad input; fail loudly
    // instead of reading past the buffers.
    CHECK(index >= 0 && index < source.num_examples)
        << "Subset index " << index << " out of range [0, "
        << source.num_examples << ")";
    if (pixels > 0) {
      std::memcpy(out.images.data() + i * pixels,
                  source.images.data() + static_cast<size_t>(index) * pixels,
                  pixels);
    }
    out.labels[i] = source.labels[static_cast<size_t>(index)];
  }
  return out;
}

}  // namespace cohort::data
