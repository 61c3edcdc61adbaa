#include "common/ml/convert.h"

#include <ATen/core/grad_mode.h>

#include <bit>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"

namespace cohort::ml::internal {
namespace {

// The wire format is little-endian fp32, which is also the in-memory layout
// on every platform we ship to, so payloads are plain byte copies.
static_assert(std::endian::native == std::endian::little,
              "Weights payload conversion assumes a little-endian host");

void CheckCopyable(const std::string& name, const at::Tensor& tensor) {
  CHECK(tensor.is_contiguous() && tensor.scalar_type() == at::kFloat &&
        tensor.device().is_cpu())
      << "parameter " << name << " is not a contiguous fp32 CPU tensor";
}

absl::Status CheckTensor(const cohort::v1::Tensor& proto,
                         const at::Tensor& param) {
  if (proto.dtype() != cohort::v1::DTYPE_FLOAT32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", proto.name(), ": dtype ",
        cohort::v1::DType_Name(proto.dtype()), ", want DTYPE_FLOAT32"));
  }
  const std::vector<int64_t> want = param.sizes().vec();
  const std::vector<int64_t> got(proto.shape().begin(), proto.shape().end());
  if (got != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", proto.name(), ": shape [", absl::StrJoin(got, ","),
        "], want [", absl::StrJoin(want, ","), "]"));
  }
  const size_t want_bytes = static_cast<size_t>(param.numel()) * sizeof(float);
  if (proto.data().size() != want_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", proto.name(), ": payload is ",
                     proto.data().size(), " bytes, want ", want_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

cohort::v1::Weights ToWeights(const NamedTensors& params) {
  cohort::v1::Weights weights;
  for (const auto& item : params) {
    const at::Tensor& param = item.value();
    CheckCopyable(item.key(), param);
    cohort::v1::Tensor* out = weights.add_tensors();
    out->set_name(item.key());
    out->set_dtype(cohort::v1::DTYPE_FLOAT32);
    for (int64_t dim : param.sizes()) out->add_shape(dim);
    out->set_data(static_cast<const char*>(param.data_ptr()),
                  static_cast<size_t>(param.numel()) * sizeof(float));
  }
  return weights;
}

absl::Status AssignWeights(const cohort::v1::Weights& weights,
                           NamedTensors& params) {
  // Validate everything first so a bad message never half-updates a model.
  std::unordered_map<std::string, const cohort::v1::Tensor*> by_name;
  for (const cohort::v1::Tensor& proto : weights.tensors()) {
    const at::Tensor* param = params.find(proto.name());
    if (param == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", proto.name(), ": not a model parameter"));
    }
    if (!by_name.emplace(proto.name(), &proto).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", proto.name(), ": appears twice"));
    }
    absl::Status status = CheckTensor(proto, *param);
    if (!status.ok()) return status;
  }
  for (const auto& item : params) {
    if (by_name.find(item.key()) == by_name.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", item.key(), ": missing from weights"));
    }
  }
  // memcpy rather than from_blob: a bytes field need not be float-aligned.
  at::NoGradGuard no_grad;
  for (auto& item : params) {
    at::Tensor& param = item.value();
    CheckCopyable(item.key(), param);
    const std::string& data = by_name.at(item.key())->data();
    std::memcpy(param.data_ptr(), data.data(), data.size());
  }
  return absl::OkStatus();
}

}  // namespace cohort::ml::internal
