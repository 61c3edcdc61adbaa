// The ONNX form of a Network: see onnx_export.h.

#include "common/ml/onnx_export.h"

#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/int8_net.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/torch_guard.h"

namespace cohort::ml::internal {
namespace {

// Appends nodes and initializers to one graph, naming each output
// "<hint>_<n>" so names never collide.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* graph) : graph_(graph) {}

  onnx::NodeProto* Node(const std::string& op,
                        const std::vector<std::string>& inputs,
                        const std::string& output = "") {
    onnx::NodeProto* node = graph_->add_node();
    node->set_op_type(op);
    node->set_name(absl::StrCat(op, "_", graph_->node_size()));
    for (const std::string& in : inputs) node->add_input(in);
    node->add_output(output.empty() ? Fresh(op) : output);
    return node;
  }

  // The last node's output.
  std::string Out() const {
    return graph_->node(graph_->node_size() - 1).output(0);
  }

  // An initializer; `type` is an onnx::TensorProto::DataType and `bytes` the
  // little-endian payload.
  std::string Initializer(const std::string& name, int type,
                          const std::vector<int64_t>& dims,
                          const void* bytes, size_t size) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(bytes, size);
    return name;
  }

  std::string Floats(const std::string& name, const std::vector<int64_t>& dims,
                     const at::Tensor& values) {
    const at::Tensor v = values.detach().to(torch::kFloat).contiguous();
    return Initializer(name, onnx::TensorProto::FLOAT, dims, v.data_ptr(),
                       static_cast<size_t>(v.numel()) * sizeof(float));
  }

  // A fresh initializer name from `hint`.
  std::string Unique(const std::string& hint) { return Fresh(hint); }

  std::string Scalar(const std::string& name, float value) {
    return Initializer(name, onnx::TensorProto::FLOAT, {}, &value,
                       sizeof(value));
  }

 private:
  std::string Fresh(const std::string& hint) {
    return absl::StrCat(hint, "_", next_++);
  }

  onnx::GraphProto* graph_;
  int next_ = 0;
};

void SetInts(onnx::NodeProto* node, const std::string& name,
             std::initializer_list<int64_t> values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void SetInt(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void SetFloat(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void SetTensorType(onnx::ValueInfoProto* info, const std::string& name,
                   std::initializer_list<int64_t> dims) {
  info->set_name(name);
  onnx::TypeProto::Tensor* t = info->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  bool first = true;
  for (int64_t d : dims) {
    onnx::TensorShapeProto::Dimension* dim = t->mutable_shape()->add_dim();
    if (first) {
      dim->set_dim_param("batch");
    } else {
      dim->set_dim_value(d);
    }
    first = false;
  }
}

std::vector<int64_t> Dims(const at::Tensor& t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

// uint8 activation parameters of one tensor: a scale and a zero point.
struct QParams {
  std::string scale;
  std::string zero_point;
};

// Emits the graph's quantization pieces (int8 form only).
class Quantizer {
 public:
  explicit Quantizer(GraphBuilder& b) : b_(b) {}

  QParams Activation(const std::string& name, const AffineParams& p) {
    const uint8_t zero = static_cast<uint8_t>(p.zero_point);
    return {b_.Scalar(name + "_scale", static_cast<float>(p.scale)),
            b_.Initializer(name + "_zero_point", onnx::TensorProto::UINT8, {},
                           &zero, 1)};
  }

  // Quantize then dequantize `x` on the grid of `q`.
  std::string RoundTrip(const std::string& x, const QParams& q) {
    b_.Node("QuantizeLinear", {x, q.scale, q.zero_point});
    b_.Node("DequantizeLinear", {b_.Out(), q.scale, q.zero_point});
    return b_.Out();
  }

  // The int8 weight on the artifact's per-channel grid, dequantized.
  std::string Weight(const std::string& name, const at::Tensor& weight,
                     const at::Tensor& scales) {
    const at::Tensor q = QuantizeWeight(weight).int_repr().contiguous();
    const int64_t channels = weight.size(0);
    const std::vector<int8_t> zeros(static_cast<size_t>(channels), 0);
    b_.Initializer(name + "_quantized", onnx::TensorProto::INT8, Dims(weight),
                   q.data_ptr(), static_cast<size_t>(q.numel()));
    b_.Floats(name + "_scale", {channels}, scales);
    b_.Initializer(name + "_zero_point", onnx::TensorProto::INT8, {channels},
                   zeros.data(), zeros.size());
    onnx::NodeProto* dq = b_.Node(
        "DequantizeLinear",
        {name + "_quantized", name + "_scale", name + "_zero_point"}, name);
    SetInt(dq, "axis", 0);
    return name;
  }

  // The bias as int32 at input scale x weight scale (zero point 0).
  std::string Bias(const std::string& name, const at::Tensor& bias,
                   double input_scale, const at::Tensor& weight_scales) {
    const at::Tensor scales =
        (weight_scales.to(torch::kDouble) * input_scale).contiguous();
    const at::Tensor q = torch::round(bias.detach().to(torch::kDouble) / scales)
                             .clamp(INT32_MIN, INT32_MAX)
                             .to(torch::kInt)
                             .contiguous();
    const int64_t channels = bias.size(0);
    const std::vector<int32_t> zeros(static_cast<size_t>(channels), 0);
    b_.Initializer(name + "_quantized", onnx::TensorProto::INT32, {channels},
                   q.data_ptr(), static_cast<size_t>(channels) * 4);
    b_.Floats(name + "_scale", {channels}, scales);
    b_.Initializer(name + "_zero_point", onnx::TensorProto::INT32, {channels},
                   zeros.data(), zeros.size() * 4);
    onnx::NodeProto* dq = b_.Node(
        "DequantizeLinear",
        {name + "_quantized", name + "_scale", name + "_zero_point"}, name);
    SetInt(dq, "axis", 0);
    return name;
  }

 private:
  GraphBuilder& b_;
};

// Conv or Gemm of one layer, with its (possibly quantized) parameters.
std::string LayerOp(GraphBuilder& b, Quantizer* quantizer, Network& network,
                    size_t i, const std::string& x, double input_scale) {
  const LayerSpec& spec = network.specs()[i];
  const auto [weight, bias] = network.FoldedWeights(i);
  std::vector<std::string> inputs = {x};
  if (quantizer == nullptr) {
    inputs.push_back(b.Floats(spec.name + ".weight", Dims(weight), weight));
    if (bias.defined()) {
      inputs.push_back(b.Floats(spec.name + ".bias", Dims(bias), bias));
    }
  } else {
    const at::Tensor scales = WeightScales(weight);
    inputs.push_back(quantizer->Weight(spec.name + ".weight", weight, scales));
    if (bias.defined()) {
      inputs.push_back(
          quantizer->Bias(spec.name + ".bias", bias, input_scale, scales));
    }
  }
  if (spec.kind == LayerSpec::Kind::kConv2d) {
    onnx::NodeProto* conv = b.Node("Conv", inputs);
    SetInts(conv, "kernel_shape", {spec.kernel, spec.kernel});
    SetInts(conv, "strides", {spec.stride, spec.stride});
    SetInts(conv, "pads",
            {spec.padding, spec.padding, spec.padding, spec.padding});
    if (spec.groups > 1) SetInt(conv, "group", spec.groups);
  } else {
    SetInt(b.Node("Gemm", inputs), "transB", 1);
  }
  return b.Out();
}

// ReLU6 is Clip(0, 6); hardswish is x * HardSigmoid(x) with alpha 1/6,
// beta 1/2 (HardSwish itself needs opset 14).
std::string Activation(GraphBuilder& b, LayerSpec::Activation activation,
                       const std::string& x) {
  switch (activation) {
    case LayerSpec::Activation::kRelu:
      return b.Node("Relu", {x})->output(0);
    case LayerSpec::Activation::kRelu6:
      return b.Node("Clip", {x, b.Scalar(b.Unique("zero"), 0.0f),
                             b.Scalar(b.Unique("six"), 6.0f)})
          ->output(0);
    case LayerSpec::Activation::kHardswish: {
      onnx::NodeProto* gate = b.Node("HardSigmoid", {x});
      SetFloat(gate, "alpha", 1.0f / 6.0f);
      SetFloat(gate, "beta", 0.5f);
      return b.Node("Mul", {x, gate->output(0)})->output(0);
    }
    case LayerSpec::Activation::kNone:
      break;
  }
  return x;
}

std::string Pool(GraphBuilder& b, const LayerSpec& spec, const std::string& x) {
  if (spec.pool_kind == LayerSpec::Pool::kGlobalAvg) {
    return b.Node("GlobalAveragePool", {x})->output(0);
  }
  if (spec.pool == 0) return x;
  onnx::NodeProto* pool = b.Node(
      spec.pool_kind == LayerSpec::Pool::kAvg ? "AveragePool" : "MaxPool", {x});
  SetInts(pool, "kernel_shape", {spec.pool, spec.pool});
  SetInts(pool, "strides", {spec.pool_stride, spec.pool_stride});
  return pool->output(0);
}

// One layer from its input `x`; `scale` is the input's quantization scale
// and becomes the output's. `inputs` holds every earlier layer's input.
std::string Layer(GraphBuilder& b, Quantizer* q, Network& network, size_t i,
                  const std::vector<std::string>& inputs, double& scale) {
  const LayerSpec& spec = network.specs()[i];
  std::string x = inputs[i];
  if (spec.flatten_before) {
    SetInt(b.Node("Flatten", {x}), "axis", 1);
    x = b.Out();
  }
  x = LayerOp(b, q, network, i, x, scale);
  if (q != nullptr && spec.has_inner_range()) {
    const AffineParams p = ActivationParams(network.inner_ranges()[i]);
    x = q->RoundTrip(x, q->Activation(spec.name + "_inner", p));
  }
  if (spec.residual >= 0) {
    x = b.Node("Add", {x, inputs[static_cast<size_t>(spec.residual)]})
            ->output(0);
  }
  x = Activation(b, spec.activation, x);
  if (q != nullptr) {
    const AffineParams p = ActivationParams(network.ranges()[i + 1]);
    x = q->RoundTrip(x, q->Activation(spec.name + "_output", p));
    scale = p.scale;
  }
  return Pool(b, spec, x);
}

void BuildGraph(Network& network, OnnxPrecision precision,
                onnx::GraphProto* graph) {
  GraphBuilder b(graph);
  Quantizer quantizer(b);
  Quantizer* q = precision == OnnxPrecision::kInt8 ? &quantizer : nullptr;
  SetTensorType(graph->add_input(), "image", {0, 1, kImageSide, kImageSide});
  b.Node("Sub", {"image", b.Scalar("pixel_mean", kPixelMean)});
  b.Node("Div", {b.Out(), b.Scalar("pixel_std", kPixelStd)});
  std::string x = b.Out();
  double scale = 1.0;
  if (q != nullptr) {
    const AffineParams p = ActivationParams(network.ranges()[0]);
    x = q->RoundTrip(x, q->Activation("input", p));
    scale = p.scale;
  }
  std::vector<std::string> inputs;
  for (size_t i = 0; i < network.specs().size(); ++i) {
    inputs.push_back(x);
    x = Layer(b, q, network, i, inputs, scale);
  }
  b.Node("Identity", {x}, "logits");
  SetTensorType(graph->add_output(), "logits", {0, kNumClasses});
}

}  // namespace

absl::StatusOr<std::string> OnnxModelBytes(Network& network,
                                           OnnxPrecision precision,
                                           const std::string& graph_name) {
  if (precision == OnnxPrecision::kInt8 && !network.HasRanges()) {
    return absl::FailedPreconditionError(
        "an int8 ONNX export needs activation ranges (QAT or calibration)");
  }
  std::string bytes;
  absl::Status status = GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    onnx::ModelProto model;
    model.set_ir_version(kOnnxIrVersion);
    model.set_producer_name("cohort");
    model.set_model_version(1);
    model.set_doc_string(absl::StrCat(
        graph_name,
        precision == OnnxPrecision::kInt8 ? ", int8 (QDQ)" : ", fp32",
        "; input image: pixel / 255, output: logits"));
    onnx::OperatorSetIdProto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOnnxOpset);
    onnx::GraphProto* graph = model.mutable_graph();
    graph->set_name(graph_name);
    BuildGraph(network, precision, graph);
    bytes = model.SerializeAsString();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return bytes;
}

absl::Status WriteOnnx(Network& network, OnnxPrecision precision,
                       const std::string& graph_name, const std::string& path) {
  absl::StatusOr<std::string> bytes =
      OnnxModelBytes(network, precision, graph_name);
  if (!bytes.ok()) return bytes.status();
  if (absl::Status s = base::WriteFileAtomically(path, *bytes); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace cohort::ml::internal

namespace cohort::ml {

absl::Status Model::ExportOnnx(const std::string& path) const {
  return internal::WriteOnnx(*impl_->network, internal::OnnxPrecision::kFloat32,
                             impl_->architecture, path);
}

absl::StatusOr<std::string> Model::OnnxBytes() const {
  return internal::OnnxModelBytes(
      *impl_->network, internal::OnnxPrecision::kFloat32, impl_->architecture);
}

}  // namespace cohort::ml
