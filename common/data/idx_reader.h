#ifndef COHORT_COMMON_DATA_IDX_READER_H_
#define COHORT_COMMON_DATA_IDX_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"

namespace cohort::data {

// Reads a pair of IDX files (images: magic 0x00000803, labels: 0x00000801),
// gzip-compressed or plain. Keeps at most max_examples (0 = all).
// Returns NOT_FOUND for a missing file, INVALID_ARGUMENT (naming the file) for
// a bad magic, truncated payload, count mismatch, a label >= 10, or a header
// declaring more than 1 GiB of data; INVALID_ARGUMENT also for
// max_examples < 0 and for trailing bytes after a fully read payload.
// PERMISSION_DENIED or UNAVAILABLE if a file exists but cannot be opened.
absl::StatusOr<ImageDataset> ReadIdxImages(const std::string& images_path,
                                           const std::string& labels_path,
                                           int64_t max_examples = 0);

// Loads Fashion-MNIST from a directory holding Debian's gzipped IDX files:
// train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz, or the t10k-* pair
// when test_split is true.
absl::StatusOr<ImageDataset> LoadFashionMnist(const std::string& dir,
                                              bool test_split,
                                              int64_t max_examples = 0);

// Debian's location of dataset-fashion-mnist.
inline constexpr char kDefaultFashionMnistDir[] =
    "/usr/share/datasets/fashion-mnist";

}  // namespace cohort::data

#endif  // COHORT_COMMON_DATA_IDX_READER_H_
