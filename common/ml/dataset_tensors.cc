#include "common/ml/dataset_tensors.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace cohort::ml::internal {

absl::Status ValidateDataset(const data::ImageDataset& data) {
  if (data.num_examples <= 0) {
    return absl::InvalidArgumentError("data set is empty");
  }
  if (data.height != kImageSide || data.width != kImageSide) {
    return absl::InvalidArgumentError(
        absl::StrCat("images are ", data.height, "x", data.width, ", want ",
                     kImageSide, "x", kImageSide));
  }
  const size_t n = static_cast<size_t>(data.num_examples);
  if (data.images.size() != n * kImageSide * kImageSide ||
      data.labels.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set of ", n, " examples holds ", data.images.size(),
                     " pixel bytes and ", data.labels.size(), " labels"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (data.labels[i] >= kNumClasses) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", data.labels[i], " at index ", i,
                       " is not in [0, ", kNumClasses, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRange(const data::ImageDataset& data, int64_t start,
                           int64_t count) {
  // Inference reads no labels, and a full label scan per call would weigh
  // on batch-1 latency, so only the image buffer is checked here.
  if (data.height != kImageSide || data.width != kImageSide ||
      data.num_examples < 0 ||
      data.images.size() != static_cast<size_t>(data.num_examples) *
                                kImageSide * kImageSide) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data set of ", data.num_examples, " ", data.height, "x", data.width,
        " images holds ", data.images.size(), " pixel bytes"));
  }
  if (start < 0 || count < 1 || start > data.num_examples - count) {
    return absl::InvalidArgumentError(
        absl::StrCat("examples [", start, ", ", start, " + ", count,
                     ") are outside a set of ", data.num_examples));
  }
  return absl::OkStatus();
}

at::Tensor ImagesTensor(const data::ImageDataset& data, int64_t start,
                        int64_t count) {
  if (count < 0) count = data.num_examples - start;
  constexpr int64_t kPixels = kImageSide * kImageSide;
  // from_blob does not copy, but .to() below does, so the const_cast never
  // lets LibTorch write into the caller's buffer.
  torch::Tensor raw = torch::from_blob(
      const_cast<uint8_t*>(data.images.data()) + start * kPixels,
      {count, 1, kImageSide, kImageSide}, torch::kUInt8);
  return raw.to(torch::kFloat).div_(255.0f).sub_(kPixelMean).div_(kPixelStd);
}

at::Tensor LabelsTensor(const data::ImageDataset& data) {
  return torch::from_blob(const_cast<uint8_t*>(data.labels.data()),
                          {data.num_examples}, torch::kUInt8)
      .to(torch::kLong);
}

}  // namespace cohort::ml::internal
