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
                 torch::List<int64_t>({1, 1}), spec.groups);
}

LinearParams PackLinear(const at::Tensor& weight,
                        const c10::optional<at::Tensor>& bias) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::linear_prepack", "")
          .typed<LinearParams(at::Tensor, c10::optional<at::Tensor>)>();
  return op.call(QuantizeWeight(weight), bias);
}

// quantized::add, add_relu and hardswish: (tensors..., scale, zero point).
// typed<> must match each kernel's C++ signature exactly, reference or
// value.
at::Tensor Add(const at::Tensor& a, const at::Tensor& b, bool relu,
               const AffineParams& out) {
  static auto add = c10::Dispatcher::singleton()
                        .findSchemaOrThrow("quantized::add", "")
                        .typed<at::Tensor(at::Tensor, at::Tensor, double,
                                          int64_t)>();
  static auto add_relu = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("quantized::add_relu", "")
                             .typed<at::Tensor(at::Tensor, at::Tensor, double,
                                               int64_t)>();
  return (relu ? add_relu : add).call(a, b, out.scale, out.zero_point);
}

at::Tensor Hardswish(const at::Tensor& x, const AffineParams& out) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::hardswish", "")
          .typed<at::Tensor(const at::Tensor&, double, int64_t)>();
  return op.call(x, out.scale, out.zero_point);
}

at::Tensor Pool(const at::Tensor& x, const LayerSpec& spec) {
  switch (spec.pool_kind) {
    case LayerSpec::Pool::kGlobalAvg:
      return at::adaptive_avg_pool2d(x, {1, 1});
    case LayerSpec::Pool::kAvg:
      if (spec.pool == 0) return x;
      return at::avg_pool2d(x, {spec.pool, spec.pool},
                            {spec.pool_stride, spec.pool_stride});
    case LayerSpec::Pool::kMax:
      break;
  }
  if (spec.pool == 0) return x;
  return at::max_pool2d(x, {spec.pool, spec.pool},
                        {spec.pool_stride, spec.pool_stride}, {0, 0}, {1, 1});
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
  torch::NoGradGuard no_grad;
  input_ = ActivationParams(network.ranges()[0]);
  for (size_t i = 0; i < network.specs().size(); ++i) {
    Layer layer;
    layer.spec = network.specs()[i];
    layer.output = ActivationParams(network.ranges()[i + 1]);
    if (layer.spec.has_inner_range()) {
      layer.inner = ActivationParams(network.inner_ranges()[i]);
    }
    auto [weight, folded_bias] = network.FoldedWeights(i);
    c10::optional<at::Tensor> bias;
    if (folded_bias.defined()) bias = folded_bias.detach().clone();
    if (layer.spec.kind == LayerSpec::Kind::kConv2d) {
      layer.conv = PackConv(layer.spec, weight, bias);
    } else {
      layer.linear = PackLinear(weight, bias);
    }
    layers_.push_back(std::move(layer));
  }
}

at::Tensor Int8Net::Kernel(const Layer& layer, const at::Tensor& x) const {
  const LayerSpec& spec = layer.spec;
  const bool fused_relu = !spec.has_inner_range() &&
                          (spec.activation == LayerSpec::Activation::kRelu ||
                           spec.activation == LayerSpec::Activation::kRelu6);
  const AffineParams& out = spec.has_inner_range() ? layer.inner : layer.output;
  // Packed-params kernels bypass the dispatcher; the scopes make them
  // visible to LibTorch's profiler (cohort-agent profile).
  if (layer.conv) {
    RECORD_FUNCTION(fused_relu ? "quantized::conv2d_relu" : "quantized::conv2d",
                    std::vector<c10::IValue>());
    return fused_relu ? layer.conv->apply_relu(x, out.scale, out.zero_point)
                      : layer.conv->apply(x, out.scale, out.zero_point);
  }
  RECORD_FUNCTION(fused_relu ? "quantized::linear_relu" : "quantized::linear",
                  std::vector<c10::IValue>());
  return fused_relu ? layer.linear->apply_relu(x, out.scale, out.zero_point)
                    : layer.linear->apply(x, out.scale, out.zero_point);
}

at::Tensor Int8Net::Forward(const at::Tensor& input) const {
  // Quantized pooling dispatches on the global engine.
  at::globalContext().setQEngine(engine_);
  at::Tensor x = at::quantize_per_tensor(input, input_.scale,
                                         input_.zero_point, torch::kQUInt8);
  std::vector<at::Tensor> inputs(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    const LayerSpec& spec = layer.spec;
    inputs[i] = x;
    if (spec.flatten_before) x = x.flatten(1).contiguous();
    x = Kernel(layer, x);
    if (spec.residual >= 0) {
      x = Add(x, inputs[static_cast<size_t>(spec.residual)],
              spec.activation == LayerSpec::Activation::kRelu, layer.output);
    } else if (spec.activation == LayerSpec::Activation::kHardswish) {
      x = Hardswish(x, layer.output);
    }
    x = Pool(x, spec);
  }
  return x.dequantize();
}

}  // namespace cohort::ml::internal
