#ifndef COHORT_TESTS_TESTING_FAKE_TASK_MODEL_H_
#define COHORT_TESTS_TESTING_FAKE_TASK_MODEL_H_

#include <string>
#include <utility>
#include <vector>

#include "common/model/weights_util.h"
#include "server/round/task_model.h"

namespace cohort::testing {

// A linear "model" of one tensor "w" whose metric is the mean of its values,
// so tests can see exactly what FedAvg produced. With head > 0, a second
// tensor "head.weight" of `head` values, 0.5 initially, that the metric
// ignores (a layer to keep personal), or named `head_name` (e.g. a batch
// norm's "bn.running_var").
class FakeTaskModel final : public server::TaskModel {
 public:
  explicit FakeTaskModel(int dim = 4, int head = 0,
                         std::string head_name = "head.weight")
      : dim_(dim), head_(head), head_name_(std::move(head_name)) {}
  const std::string& architecture() const override { return arch_; }
  absl::StatusOr<cohort::v1::Weights> InitialWeights() override {
    cohort::v1::Weights w = Filled(0.0f);
    if (head_ > 0) {
      auto* t = w.add_tensors();
      t->set_name(head_name_);
      t->add_shape(head_);
      model::SetFloatData(std::vector<float>(head_, 0.5f), t);
    }
    return w;
  }
  absl::StatusOr<std::map<std::string, double>> Evaluate(
      const cohort::v1::Weights& w) override {
    ++evaluations;
    double sum = 0;
    for (float v : model::FloatView(w.tensors(0))) sum += v;
    return std::map<std::string, double>{{"test_accuracy", sum / dim_}};
  }
  // With `exports_on`: one export, "onnx", whose bytes are derived from the
  // weights (so each version's differs).
  absl::StatusOr<std::map<std::string, std::string>> Exports(
      const cohort::v1::Weights& w) override {
    if (exports_fail) return absl::InternalError("export failed");
    if (!exports_on) return std::map<std::string, std::string>();
    return std::map<std::string, std::string>{
        {"onnx", "graph:" + model::SerializeWeights(w)}};
  }
  // "w" alone, filled with `value`.
  cohort::v1::Weights Filled(float value) const {
    cohort::v1::Weights w;
    auto* t = w.add_tensors();
    t->set_name("w");
    t->add_shape(dim_);
    model::SetFloatData(std::vector<float>(dim_, value), t);
    return w;
  }
  int evaluations = 0;
  bool exports_on = false;
  bool exports_fail = false;

 private:
  int dim_;
  int head_;
  std::string head_name_;
  std::string arch_ = "fake";
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FAKE_TASK_MODEL_H_
