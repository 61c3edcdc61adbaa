// Cohort's kernels against ONNX Runtime on the same model (issue 14's
// runtime comparison): a zoo model trained on Fashion-MNIST, quantized to
// int8 by calibration, exported as fp32 and int8 ONNX, then timed on one
// thread at batch 1 and 32 by Cohort (LibTorch, fp32 and int8 on each engine)
// and by ONNX Runtime (npm onnxruntime-node under node), with sizes and
// accuracy side by side. Ratios are of medians measured in this one run.
//
//   build/bin/onnx_runtime_bench [--arch=small_cnn|mobilenet_v2] [--out=DIR]
//
// Needs node and onnxruntime-node (deploy/install-deps.sh) and Debian's
// Fashion-MNIST. Writes DIR/onnx-runtime.json (docs/bench/ keeps a copy).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/latency.h"
#include "common/data/idx_reader.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"

ABSL_FLAG(std::string, arch, "small_cnn", "Zoo architecture.");
ABSL_FLAG(std::string, data_dir, cohort::data::kDefaultFashionMnistDir,
          "Fashion-MNIST (Debian's gzipped IDX files).");
ABSL_FLAG(int64_t, train_examples, 30000, "Training images.");
ABSL_FLAG(int64_t, test_examples, 2000, "Test images (accuracy and timing).");
ABSL_FLAG(int, epochs, 3, "fp32 training epochs.");
ABSL_FLAG(int, runs_b1, 300, "Timed batch-1 calls per variant.");
ABSL_FLAG(int, runs_b32, 60, "Timed batch-32 calls per variant.");
ABSL_FLAG(std::string, out, "runs/onnx-runtime", "Folder for the files.");

namespace {

using namespace cohort;  // NOLINT: a benchmark driver

struct Row {
  std::string runtime, precision;
  int64_t bytes = 0;
  double accuracy = 0, p50_b1 = 0, p95_b1 = 0, p50_b32 = 0, p95_b32 = 0;
};

void Check(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "onnx_runtime_bench: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

double JsonNumber(const std::string& json, const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(needle);
  double v = 0;
  if (at == std::string::npos) return v;
  const size_t end = json.find_first_of(",}", at);
  (void)absl::SimpleAtod(json.substr(at + needle.size(), end - at - needle.size()), &v);
  return v;
}

Row OnnxRuntimeRow(const std::string& model, const std::string& precision,
                   const std::string& dir, int64_t count) {
  const std::string out = absl::StrCat(dir, "/ort-", precision, ".json");
  const std::string cmd = absl::StrCat(
      "node ", COHORT_SOURCE_DIR, "/bench/onnx_runtime/time_onnxruntime.js ",
      model, " ", dir, "/images.bin ", dir, "/labels.bin ", count, " ",
      absl::GetFlag(FLAGS_runs_b1), " ", absl::GetFlag(FLAGS_runs_b32), " > ", out);
  if (std::system(cmd.c_str()) != 0) Check(absl::InternalError(cmd), "ONNX Runtime");
  std::ifstream in(out);
  const std::string json((std::istreambuf_iterator<char>(in)), {});
  return {"onnxruntime", precision,
          static_cast<int64_t>(JsonNumber(json, "bytes")),
          JsonNumber(json, "accuracy"), JsonNumber(json, "p50_b1_ms"),
          JsonNumber(json, "p95_b1_ms"), JsonNumber(json, "p50_b32_ms"),
          JsonNumber(json, "p95_b32_ms")};
}

void WriteBytes(const std::string& path, const void* data, size_t size) {
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string dir = absl::GetFlag(FLAGS_out);
  std::filesystem::create_directories(dir);
  auto train = data::LoadFashionMnist(absl::GetFlag(FLAGS_data_dir), false,
                                      absl::GetFlag(FLAGS_train_examples));
  auto test = data::LoadFashionMnist(absl::GetFlag(FLAGS_data_dir), true,
                                     absl::GetFlag(FLAGS_test_examples));
  Check(train.status(), "training images");
  Check(test.status(), "test images");

  ml::SetNumThreads(2);
  auto model = ml::Model::Create(absl::GetFlag(FLAGS_arch), 7);
  Check(model.status(), "model");
  ml::TrainOptions train_options;
  train_options.epochs = absl::GetFlag(FLAGS_epochs);
  train_options.momentum = 0.9f;
  Check((*model)->Train(*train, train_options).status(), "training");
  ml::Int8Options int8_options;
  int8_options.exportable = true;
  auto int8 = ml::Int8Model::Create(**model, *train, int8_options);
  Check(int8.status(), "int8");
  const std::string fp32_path = dir + "/model-fp32.onnx";
  const std::string int8_path = dir + "/model-int8.onnx";
  Check((*model)->ExportOnnx(fp32_path), "fp32 export");
  Check((*int8)->ExportOnnx(int8_path), "int8 export");

  // int8 on every engine this LibTorch has, each calibrated the same way;
  // the exported file is the one above, whatever the engine.
  std::vector<std::unique_ptr<ml::Int8Model>> engines;
  for (ml::QEngine e : ml::AvailableQEngines()) {
    ml::Int8Options options;
    options.engine = e;
    auto on_engine = ml::Int8Model::Create(**model, *train, options);
    Check(on_engine.status(), "int8 on an engine");
    engines.push_back(*std::move(on_engine));
  }

  // Cohort on one thread, as ONNX Runtime below.
  ml::SetNumThreads(1);
  const int64_t n = test->num_examples;
  std::vector<base::InferenceFn> fns = {
      [&](int64_t s, int64_t c) { return (*model)->Logits(*test, s, c).status(); }};
  for (auto& e : engines) {
    ml::Int8Model* m = e.get();
    fns.push_back([m, &test](int64_t s, int64_t c) {
      return m->Logits(*test, s, c).status();
    });
  }
  base::LatencyOptions latency;
  latency.runs_batch1 = absl::GetFlag(FLAGS_runs_b1);
  latency.runs_batch32 = absl::GetFlag(FLAGS_runs_b32);
  latency.num_examples = n;
  auto ours = base::MeasureLatencies(fns, latency);
  Check(ours.status(), "Cohort latency");
  auto fp32_eval = (*model)->Evaluate(*test);
  Check(fp32_eval.status(), "fp32 accuracy");
  const auto fp32_bytes =
      static_cast<int64_t>(std::filesystem::file_size(fp32_path));
  const auto int8_bytes =
      static_cast<int64_t>(std::filesystem::file_size(int8_path));
  std::vector<Row> rows = {{"cohort", "fp32", fp32_bytes, fp32_eval->accuracy,
                            (*ours)[0].p50_b1_ms, (*ours)[0].p95_b1_ms,
                            (*ours)[0].p50_b32_ms, (*ours)[0].p95_b32_ms}};
  // The fastest engine at batch 1 stands for Cohort's int8 in the ratios.
  size_t best = 1;
  for (size_t i = 0; i < engines.size(); ++i) {
    auto eval = engines[i]->Evaluate(*test);
    Check(eval.status(), "int8 accuracy");
    const base::LatencyReport& l = (*ours)[i + 1];
    rows.push_back({"cohort", "int8 (" + ml::QEngineName(engines[i]->engine()) + ")",
                    int8_bytes, eval->accuracy, l.p50_b1_ms, l.p95_b1_ms,
                    l.p50_b32_ms, l.p95_b32_ms});
    if (l.p50_b1_ms < rows[best].p50_b1) best = rows.size() - 1;
  }

  WriteBytes(dir + "/images.bin", test->images.data(), test->images.size());
  WriteBytes(dir + "/labels.bin", test->labels.data(), test->labels.size());
  rows.push_back(OnnxRuntimeRow(fp32_path, "fp32", dir, n));
  rows.push_back(OnnxRuntimeRow(int8_path, "int8", dir, n));

  std::printf("%-12s %-16s %10s %9s %10s %10s %11s %11s\n", "runtime", "precision",
              "bytes", "accuracy", "p50 b1 ms", "p95 b1 ms", "p50 b32 ms",
              "p95 b32 ms");
  std::string json = absl::StrCat("{\n  \"arch\": \"", absl::GetFlag(FLAGS_arch),
                                  "\", \"threads\": 1, \"test_examples\": ", n,
                                  ",\n  \"rows\": [\n");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::printf("%-12s %-16s %10lld %9.4f %10.4f %10.4f %11.4f %11.4f\n",
                r.runtime.c_str(), r.precision.c_str(),
                static_cast<long long>(r.bytes), r.accuracy, r.p50_b1, r.p95_b1,
                r.p50_b32, r.p95_b32);
    absl::StrAppendFormat(
        &json,
        "    {\"runtime\": \"%s\", \"precision\": \"%s\", \"bytes\": %d, "
        "\"accuracy\": %.4f, \"p50_b1_ms\": %.4f, \"p95_b1_ms\": %.4f, "
        "\"p50_b32_ms\": %.4f, \"p95_b32_ms\": %.4f}%s\n",
        r.runtime, r.precision, r.bytes, r.accuracy, r.p50_b1, r.p95_b1,
        r.p50_b32, r.p95_b32, i + 1 < rows.size() ? "," : "");
  }
  const Row& ort_int8 = rows.back();
  const double int8_speedup_b1 = rows[0].p50_b1 / rows[best].p50_b1;
  const double vs_ort_b1 = rows[best].p50_b1 / ort_int8.p50_b1;
  const double vs_ort_b32 = rows[best].p50_b32 / ort_int8.p50_b32;
  std::printf(
      "Cohort %s vs Cohort fp32, batch 1: %.2fx faster (goal >= 1.5x)\n"
      "Cohort int8 vs ONNX Runtime int8: %.2fx the time at batch 1, %.2fx at "
      "batch 32 (goal <= 1.5x)\n",
      rows[best].precision.c_str(), int8_speedup_b1, vs_ort_b1, vs_ort_b32);
  absl::StrAppendFormat(&json,
                        "  ],\n  \"cohort_int8_in_ratios\": \"%s\",\n"
                        "  \"cohort_int8_speedup_over_fp32_b1\": %.3f,\n"
                        "  \"cohort_int8_time_over_onnxruntime_int8_b1\": %.3f,\n"
                        "  \"cohort_int8_time_over_onnxruntime_int8_b32\": %.3f\n}\n",
                        rows[best].precision, int8_speedup_b1, vs_ort_b1,
                        vs_ort_b32);
  WriteBytes(dir + "/onnx-runtime.json", json.data(), json.size());
  return 0;
}
