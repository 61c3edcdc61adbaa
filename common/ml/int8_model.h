#ifndef COHORT_COMMON_ML_INT8_MODEL_H_
#define COHORT_COMMON_ML_INT8_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/ml/model.h"

namespace cohort::ml {

// LibTorch's quantized CPU engines. Debian's LibTorch ships QNNPACK and
// oneDNN (no FBGEMM). kAuto measures both and keeps the faster.
enum class QEngine { kAuto, kQnnpack, kOnednn };

// "auto", "qnnpack", "onednn".
std::string QEngineName(QEngine engine);
// Engines this LibTorch build supports (never kAuto).
std::vector<QEngine> AvailableQEngines();

struct Int8Options {
  QEngine engine = QEngine::kAuto;
  // Examples used to calibrate activation ranges when the model has none
  // from QAT (post-training quantization). Taken from the front of the set.
  int64_t calibration_examples = 1000;
  // Keep the fp32 network and its activation ranges so that ExportOnnx can
  // write this model; costs the fp32 weights' memory for the model's life,
  // so devices serving int8 leave it off.
  bool exportable = false;
};

// Measured batch-1 forward time of one engine while choosing (kAuto).
struct EngineTiming {
  QEngine engine = QEngine::kAuto;
  double median_ms = 0.0;
};

// A model compiled to int8 kernels: per-output-channel symmetric int8
// weights (the values of the int8 artifact, common/model/quantize.h), fp32
// biases, uint8 activations per tensor, ReLU fused into conv and linear.
// Activation ranges come from QAT when the model has them, otherwise from
// calibration (PTQ). Independent of the source Model after Create.
// Not thread-safe: it selects LibTorch's process-wide quantized engine on
// every call, so use one Int8Model at a time per process.
class Int8Model {
 public:
  // INVALID_ARGUMENT for a malformed calibration set or a requested engine
  // this build lacks; FAILED_PRECONDITION if no engine is available;
  // INTERNAL if LibTorch fails.
  static absl::StatusOr<std::unique_ptr<Int8Model>> Create(
      const Model& model, const data::ImageDataset& calibration,
      const Int8Options& options = {});
  ~Int8Model();

  // The engine in use (never kAuto).
  QEngine engine() const;
  // Per-engine timings measured by kAuto; empty for an explicit engine.
  const std::vector<EngineTiming>& engine_timings() const;

  // As Model::Logits and Model::Evaluate, on int8 kernels.
  absl::StatusOr<std::vector<float>> Logits(const data::ImageDataset& data,
                                            int64_t start, int64_t count);
  absl::StatusOr<EvalResult> Evaluate(const data::ImageDataset& data,
                                      int batch_size = 500);

  // Writes this model as ONNX in the quantize/dequantize ("QDQ") form that
  // ONNX Runtime turns into integer kernels: opset 13, inputs and outputs
  // as Model::ExportOnnx; weights int8 on this model's per-output-channel
  // grid (DequantizeLinear axis 0, symmetric, the int8 artifact's values),
  // biases int32 at input scale x weight scale, every activation a uint8
  // QuantizeLinear/DequantizeLinear pair with this model's ranges (from QAT
  // or calibration). FAILED_PRECONDITION unless created with
  // Int8Options.exportable; INTERNAL if the file cannot be written.
  absl::Status ExportOnnx(const std::string& path) const;

 private:
  struct Impl;
  explicit Int8Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::ml

#endif  // COHORT_COMMON_ML_INT8_MODEL_H_
