#include "common/ml/testing/torchscript_runner.h"

#include <torch/script.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace cohort::ml::testing {

absl::StatusOr<std::vector<float>> RunTorchScript(const std::string& path,
                                                  const data::ImageDataset& data,
                                                  int64_t start, int64_t count) {
  try {
    torch::jit::Module module = torch::jit::load(path);
    module.eval();
    const int64_t side = data.height;
    const auto* pixels = data.images.data() + start * side * side;
    torch::Tensor x =
        torch::from_blob(const_cast<uint8_t*>(pixels), {count, 1, side, side},
                         torch::kUInt8)
            .to(torch::kFloat)
            .div(255.0f);
    torch::NoGradGuard no_grad;
    torch::Tensor logits = module.forward({x}).toTensor().contiguous();
    return std::vector<float>(logits.data_ptr<float>(),
                              logits.data_ptr<float>() + logits.numel());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what()));
  }
}

}  // namespace cohort::ml::testing
