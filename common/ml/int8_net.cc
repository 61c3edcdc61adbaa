#include "common/ml/int8_net.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

namespace cohort::ml::internal {
namespace {

using ConvParams = c10::intrusive_ptr<ConvPackedParamsBase<2>>;
using LinearParams = c10::intrusive_ptr<LinearPackedParamsBase>;

ConvParams PackConv(const LayerSpec& spec, const at::Tensor& weight,
                    const c10::optional<at::Tensor>& bias) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("quantized::conv2d_prepack", "")
                       .typed<ConvParams(at::Tensor, c10::optional<at::Tensor>,
                                         torch::List<int64_t>,
                                         torch::List<int64_t>,
                                         torch::List<int64_t>, int64_t)>();
  return op.call(QuantizeWeight(weight), bias,
                 torch::List<int64_t>({spec.stride, spec.stride}),
                 torch::List<int64_t>({spec.padding, spec.padding}),
                 torch::List<int64_t>({1, 1}), 1);
}

LinearParams PackLinear(const at::Tensor& weight,
                        const c10::optional<at::Tensor>& bias) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::linear_prepack", "")
          .typed<LinearParams(at::Tensor, c10::optional<at::Tensor>)>();
  return op.call(QuantizeWeight(weight), bias);
}

}  // namespace

at::Tensor QuantizeWeight(const at::Tensor& weight) {
  const at::Tensor w = weight.detach().contiguous();
  return at::quantize_per_channel(
      w, WeightScales(w).to(torch::kDouble),
      torch::zeros({w.size(0)}, torch::kLong), 0, torch::kQInt8);
}

Int8Net::Int8Net(Network& network, at::QEngine engine) : engine_(engine) {
  TORCH_CHECK(network.HasRanges(), "int8 lowering needs activation ranges");
  at::globalContext().setQEngine(engine);
  input_ = ActivationParams(network.ranges()[0]);
  for (size_t i = 0; i < network.specs().size(); ++i) {
    Layer layer;
    layer.spec = network.specs()[i];
    layer.output = ActivationParams(network.ranges()[i + 1]);
    c10::optional<at::Tensor> bias;
    if (network.bias(i).defined()) bias = network.bias(i).detach().clone();
    if (layer.spec.kind == LayerSpec::Kind::kConv2d) {
      layer.conv = PackConv(layer.spec, network.weight(i), bias);
    } else {
      layer.linear = PackLinear(network.weight(i), bias);
    }
    layers_.push_back(std::move(layer));
  }
}

at::Tensor Int8Net::Forward(const at::Tensor& input) const {
  // Quantized pooling dispatches on the global engine.
  at::globalContext().setQEngine(engine_);
  at::Tensor x = at::quantize_per_tensor(input, input_.scale,
                                         input_.zero_point, torch::kQUInt8);
  for (const Layer& layer : layers_) {
    const LayerSpec& spec = layer.spec;
    if (spec.flatten_before) x = x.flatten(1).contiguous();
    const double scale = layer.output.scale;
    const int64_t zero = layer.output.zero_point;
    // Packed-params kernels bypass the dispatcher; the scopes make them
    // visible to LibTorch's profiler (cohort-agent profile).
    if (layer.conv) {
      RECORD_FUNCTION(spec.relu ? "quantized::conv2d_relu" : "quantized::conv2d",
                      std::vector<c10::IValue>());
      x = spec.relu ? layer.conv->apply_relu(x, scale, zero)
                    : layer.conv->apply(x, scale, zero);
    } else {
      RECORD_FUNCTION(spec.relu ? "quantized::linear_relu" : "quantized::linear",
                      std::vector<c10::IValue>());
      x = spec.relu ? layer.linear->apply_relu(x, scale, zero)
                    : layer.linear->apply(x, scale, zero);
    }
    if (spec.pool > 0) {
      x = torch::max_pool2d(x, {spec.pool, spec.pool},
                            {spec.pool_stride, spec.pool_stride}, {0, 0},
                            {1, 1});
    }
  }
  return x.dequantize();
}

}  // namespace cohort::ml::internal
