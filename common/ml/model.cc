#include "common/ml/model.h"

#include <utility>

#include "absl/status/status.h"
#include "common/ml/convert.h"
#include "common/ml/model_impl.h"
#include "common/ml/torch_guard.h"
#include "common/ml/zoo.h"

namespace cohort::ml {

absl::StatusOr<std::unique_ptr<Model>> Model::Create(
    const std::string& architecture, uint64_t seed) {
  std::unique_ptr<Model> model;
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    absl::StatusOr<std::shared_ptr<internal::Network>> network =
        internal::BuildNetwork(architecture, seed);
    if (!network.ok()) return network.status();
    auto impl = std::make_unique<Impl>();
    impl->architecture = architecture;
    impl->network = *std::move(network);
    model.reset(new Model(std::move(impl)));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return model;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Model::~Model() = default;

const std::string& Model::architecture() const { return impl_->architecture; }

int64_t Model::NumParameters() const {
  int64_t total = 0;
  for (const auto& param : impl_->network->parameters()) total += param.numel();
  return total;
}

cohort::v1::Weights Model::GetWeights() const {
  return internal::ToWeights(impl_->network->NamedState());
}

absl::Status Model::SetWeights(const cohort::v1::Weights& weights) {
  internal::NamedTensors params = impl_->network->NamedState();
  absl::Status status = internal::AssignWeights(weights, params);
  if (!status.ok()) return status;
  // Activation ranges were observed on the old weights. Dropping them keeps
  // a model reused across clients (the simulator's per-thread trainers)
  // from carrying one client's QAT state into the next.
  impl_->network->ResetRanges();
  impl_->network->set_quant_mode(internal::QuantMode::kOff);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Model>> Model::Clone() const {
  std::unique_ptr<Model> copy;
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    auto impl = std::make_unique<Impl>();
    impl->architecture = impl_->architecture;
    impl->network = impl_->network->Clone();
    copy.reset(new Model(std::move(impl)));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return copy;
}

}  // namespace cohort::ml
