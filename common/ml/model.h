#ifndef COHORT_COMMON_ML_MODEL_H_
#define COHORT_COMMON_ML_MODEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "common/data/dataset.h"

namespace cohort::ml {

// This header is LibTorch-free on purpose: server, client and sim include it
// without pulling in torch headers. Only common/ml/*.cc include <torch/...>,
// and every c10::Error is converted to absl::Status there.

struct TrainOptions {
  int epochs = 1;
  int batch_size = 32;
  float learning_rate = 0.05f;
  float momentum = 0.0f;
  // Seeds the per-epoch shuffle and the dropout masks of a model that has
  // dropout, so local training is reproducible.
  uint64_t seed = 1;
  // Quantization-aware training: the forward pass fake-quantizes weights
  // (per output channel, symmetric int8, exactly as the int8 artifact) and
  // activations (per tensor, uint8, ranges from moving-average observers);
  // gradients pass straight through. The learned activation ranges stay with
  // the model and are used by Int8Model. Off by default here; the training
  // plan decides (see docs/DECISIONS.md, "Edge-ready models").
  bool qat = false;
  // FedProx's proximal coefficient mu (Li et al. 2020): each step adds
  // mu * (w - w_start) to the gradient of every parameter, w_start being
  // the weights training began from. 0: plain SGD. Finite and >= 0.
  float proximal_mu = 0.0f;
  // Polled before each batch; once it returns true, training stops and
  // TrainResult.stopped is set (a device past its report deadline). Empty:
  // never stops early.
  std::function<bool()> should_stop;
};

// Knowledge distillation (Hinton et al. 2015): the student matches the
// teacher's temperature-softened class distribution on proxy data.
struct DistillOptions {
  TrainOptions train;
  // Softmax temperature for both teacher and student (> 0).
  float temperature = 4.0f;
  // Weight of the soft (KL) term; 1 - soft_weight goes to cross-entropy on
  // the proxy data's labels. 1.0 ignores labels (unlabelled proxy data).
  float soft_weight = 0.9f;
};

struct TrainResult {
  // Mean loss over the last epoch.
  double mean_loss = 0.0;
  int64_t num_examples = 0;
  // TrainOptions.should_stop ended training early; the weights are partial.
  bool stopped = false;
};

// Equal-width bins of [0, 1] for the top softmax probability in EvalResult.
inline constexpr int kConfidenceBins = 10;

struct EvalResult {
  double accuracy = 0.0;
  double mean_loss = 0.0;
  int64_t num_examples = 0;
  // Examples predicted (argmax of the logits) as each class; one entry per
  // class of the data set.
  std::vector<int64_t> predicted_counts;
  // Examples whose top softmax probability p falls in bin
  // min(floor(p * kConfidenceBins), kConfidenceBins - 1).
  std::vector<int64_t> confidence_counts;
};

// Names of the built-in architectures: "mlp" (784-96-10, ~76K parameters),
// "small_cnn" (two 5x5 conv layers + two linear, under 100K parameters) and
// "tiny_cnn" (the same shape at 6/12/32 channels, ~8.5K parameters: the
// default distillation student).
std::vector<std::string> ZooArchitectures();

// Limits LibTorch's intra-op threads for the whole process (n < 1 means 1).
// The first call also sizes the inter-op pool, which LibTorch allows only
// once; later calls change only the intra-op count. Never aborts.
void SetNumThreads(int n);

// One model instance: an architecture from the zoo plus its fp32 weights.
// Owns its LibTorch module. Not thread-safe; use one instance per thread.
class Model {
 public:
  // INVALID_ARGUMENT for an unknown architecture. Weights are initialised from
  // `seed`, so the same (architecture, seed) gives the same weights.
  static absl::StatusOr<std::unique_ptr<Model>> Create(
      const std::string& architecture, uint64_t seed);
  // Imports a TorchScript module file (the operator's own, e.g. exported
  // with torch.jit.script or torch.jit.trace). Its forward must be a chain of
  // conv2d / linear layers with relu, max_pool2d, flatten and dropout, map
  // [N, 1, 28, 28] to [N, 10], and have trainable parameters; the result is
  // then trained, quantized and converted like a zoo model, and weights
  // travel only as model.proto. Every property that changes training is
  // carried over or the module is refused: dropout keeps its probability
  // and acts in Train only; padding="same" (odd kernel, stride 1) becomes
  // the equal symmetric padding; BatchNorm, frozen or tied parameters and
  // any other op are refused. Parameter names keep the module's paths
  // with '.' inside a submodule path turned into '_' ("features_0.weight").
  // NOT_FOUND if the file is unreadable, RESOURCE_EXHAUSTED above 64 MiB,
  // INVALID_ARGUMENT with the reason for any module that is refused; a
  // refusal caused by one layer names it by module path and PyTorch class,
  // e.g. "layer features.3 (BatchNorm2d)".
  static absl::StatusOr<std::unique_ptr<Model>> ImportTorchScript(
      const std::string& path);
  ~Model();

  const std::string& architecture() const;
  int64_t NumParameters() const;

  // Every parameter as a FLOAT32 Tensor named as in the module
  // (e.g. "conv1.weight"), in a fixed order.
  cohort::v1::Weights GetWeights() const;
  // INVALID_ARGUMENT if a name, shape or dtype does not match, or a payload
  // has the wrong size. The model is unchanged on error. On success any
  // activation ranges from QAT or calibration are dropped (they belonged to
  // the old weights) and the forward pass is plain fp32 again.
  absl::Status SetWeights(const cohort::v1::Weights& weights);

  // Local SGD on `data` (images scaled to [0,1], then normalised).
  // INVALID_ARGUMENT for an empty or malformed data set (as for Evaluate) or
  // bad options (epochs or batch_size < 1, learning_rate not > 0, momentum
  // outside [0, 1)); INTERNAL if LibTorch fails.
  absl::StatusOr<TrainResult> Train(const data::ImageDataset& data,
                                    const TrainOptions& options);
  // Logits [count, 10], row-major, of examples [start, start + count) in
  // eval mode. INVALID_ARGUMENT for a malformed data set or range.
  absl::StatusOr<std::vector<float>> Logits(const data::ImageDataset& data,
                                            int64_t start, int64_t count);

  // Writes the model as a TorchScript module for PyTorch and LibTorch
  // applications (the full format, not the lite interpreter's): forward(x) takes images as float [N, 1, 28, 28]
  // of pixel / 255 in [0, 1] (it applies Cohort's normalisation itself) and
  // returns the logits [N, 10] that Logits gives, in fp32. Parameters keep
  // their names ("conv1.weight" is submodule conv1's weight), except that a
  // layer's batch norm is folded into its weight and bias; dropout is left
  // out (inference). Unlike ImportTorchScript, nothing of the file is
  // executed here: the forward is generated from the layer chain.
  // INTERNAL if LibTorch cannot compile or write it.
  absl::Status ExportTorchScript(const std::string& path) const;
  // Writes the model as ONNX for ONNX Runtime, TVM and other ONNX runtimes:
  // opset 13 (IR version 7), input "image" float [N, 1, 28, 28] of
  // pixel / 255 (the normalisation is inside the graph), output "logits"
  // float [N, 10]: the fp32 forward pass, the logits Logits gives outside
  // QAT (a model left in QAT mode fake-quantizes in Logits; the export is
  // fp32; Int8Model::ExportOnnx writes the quantized form). Operators: Sub, Div,
  // Conv, Gemm, Relu, MaxPool, Flatten. Dropout is left out (inference).
  // INTERNAL if the file cannot be written.
  absl::Status ExportOnnx(const std::string& path) const;
  // The bytes ExportOnnx writes. Deterministic: the same architecture and
  // weights give the same bytes (the initializers are the weights' own
  // bytes), so a signed release can list their SHA-256 and anyone can
  // rebuild the file and check it. INTERNAL if LibTorch fails.
  absl::StatusOr<std::string> OnnxBytes() const;

  // A deep copy (weights, activation ranges, pruning masks).
  // INTERNAL if LibTorch fails.
  absl::StatusOr<std::unique_ptr<Model>> Clone() const;

  // Structured magnitude pruning: removes round(fraction * channels) output
  // channels with the smallest L1 norm from every layer but the last, and
  // the matching inputs of the next layer, so tensors (and compute) shrink.
  // Drops activation ranges; fine-tune with Train. INVALID_ARGUMENT unless
  // 0 <= fraction < 1; FAILED_PRECONDITION for groups, batch norm, residual.
  absl::Status PruneStructured(double fraction);
  // Unstructured magnitude pruning: zeroes the fraction of each weight
  // tensor with the smallest |w| and keeps them zero through later
  // training. Shapes are unchanged. INVALID_ARGUMENT unless 0 <= fraction < 1.
  absl::Status PruneUnstructured(double fraction);
  // Fraction of weight-tensor (rank >= 2) entries that are exactly zero.
  double WeightSparsity() const;

  // Trains this model (the student) on `proxy` against `teacher`'s logits.
  // Returns the mean combined loss of the last epoch. INVALID_ARGUMENT for
  // bad data or options (temperature <= 0, soft_weight outside [0, 1]);
  // INTERNAL if LibTorch fails.
  absl::StatusOr<TrainResult> Distill(Model& teacher,
                                      const data::ImageDataset& proxy,
                                      const DistillOptions& options);

  // Accuracy and mean cross-entropy over `data`. INVALID_ARGUMENT for an
  // empty or malformed data set (not 28x28, sizes inconsistent, label >= 10)
  // or batch_size < 1; INTERNAL if LibTorch fails.
  absl::StatusOr<EvalResult> Evaluate(const data::ImageDataset& data,
                                      int batch_size = 500);

 private:
  friend class Int8Model;
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::ml

#endif  // COHORT_COMMON_ML_MODEL_H_
