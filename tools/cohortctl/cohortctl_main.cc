// cohortctl: the operator's command-line tool.
//
//   cohortctl model optimize --arch=small_cnn --out=DIR [--json]
//   cohortctl model optimize --torchscript=model.pt --out=DIR [--json]
//   cohortctl model export --arch=small_cnn|--torchscript=module.pt
//       --weights=model.pb --out=FILE [--format=torchscript|onnx]
//       [--precision=fp32|int8] [--manifest=release.pb --root=root.pb]
//   cohortctl keys generate|rotate --root_dir=DIR [--keys=3 --threshold=2]
//   cohortctl keys certify --root_dir=DIR --out=DIR [--valid_days=90]
//   cohortctl versions|releases|status|devices --task=T
//       --admin_address=HOST:PORT --ca_cert=ca.crt --cert=operator.crt
//       --key=operator.key [--json]   (devices: [--limit=N --after=ID])
//   cohortctl tasks (+ the connection flags above)
//   cohortctl rollback|promote|pin --task=T --to_version=V --reason=TEXT (+)
//   cohortctl pause|resume --task=T [--reason=TEXT] (+)
//   cohortctl predict --socket=PATH --images=IDX --labels=IDX [--count=N]
//   cohortctl examples add --socket=PATH --population=NAME --images=IDX
//       --labels=IDX [--count=N]
//
// Exit codes: 0 on success, 2 for bad usage, 1 when the work fails.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/command_line.h"
#include "common/base/logging.h"
#include "tools/cohortctl/admin_command.h"
#include "tools/cohortctl/keys_command.h"
#include "tools/cohortctl/model_export.h"
#include "tools/cohortctl/model_optimize.h"
#include "tools/cohortctl/local_commands.h"

ABSL_FLAG(std::string, arch, "small_cnn",
          "model optimize, model export: zoo architecture of the model (mlp, "
          "small_cnn, tiny_cnn, mobilenet_v2).");
ABSL_FLAG(std::string, torchscript, "",
          "model optimize, model export: a TorchScript module file to import "
          "instead of --arch.");
ABSL_FLAG(std::string, out, "",
          "model optimize, keys certify: output directory; model export: "
          "output file.");
ABSL_FLAG(std::string, weights, "",
          "model export: the model's weights (fp32 or the int8 artifact, e.g. "
          "a run folder's model.pb).");
ABSL_FLAG(std::string, format, "torchscript",
          "model export: torchscript (PyTorch and LibTorch applications) or "
          "onnx (ONNX Runtime, TVM; opset 13).");
ABSL_FLAG(std::string, precision, "fp32",
          "model export: fp32, or int8 (ONNX only; activation ranges "
          "calibrated on 1,000 training images of --data_dir).");
ABSL_FLAG(std::string, manifest, "",
          "model export: a release's SignedManifest (GetManifest), to verify "
          "the weights and the ONNX export against (needs --root).");
ABSL_FLAG(std::string, root, "",
          "model export: the root of trust devices pin (SignedRoot file).");
ABSL_FLAG(bool, json, false, "Print JSON instead of a table.");
ABSL_FLAG(std::string, data_dir, cohort::data::kDefaultFashionMnistDir,
          "Fashion-MNIST directory (Debian's gzipped IDX files).");
ABSL_FLAG(int64_t, train_examples, 0, "Training examples (0: all 60,000).");
ABSL_FLAG(int64_t, test_examples, 0, "Test examples (0: all 10,000).");
ABSL_FLAG(int, epochs, 3, "fp32 training epochs.");
ABSL_FLAG(int, qat_epochs, 1, "QAT fine-tuning epochs.");
ABSL_FLAG(double, prune_fraction, 0.5,
          "Fraction of channels structured pruning removes per layer.");
ABSL_FLAG(int, prune_epochs, 2, "Fine-tuning epochs after pruning.");
ABSL_FLAG(std::string, student, "tiny_cnn", "Distillation student architecture.");
ABSL_FLAG(int, distill_epochs, 3, "Distillation epochs.");
ABSL_FLAG(int, train_threads, 2, "LibTorch threads for training.");
ABSL_FLAG(int, bench_threads, 1, "LibTorch threads for latency measurement.");
ABSL_FLAG(int, runs_b1, 300, "Timed batch-1 runs per variant.");
ABSL_FLAG(int, runs_b32, 60, "Timed batch-32 runs per variant.");

namespace {

constexpr char kUsageHead[] =
    "Cohort operator tool.\n"
    "  cohortctl model optimize --arch=small_cnn --out=DIR [--json]\n"
    "  cohortctl model optimize --torchscript=model.pt --out=DIR [--json]\n"
    "  cohortctl model export --arch=small_cnn|--torchscript=module.pt "
    "--weights=model.pb --out=FILE [--format=torchscript|onnx] "
    "[--precision=fp32|int8] [--manifest=release.pb --root=root.pb]\n"
    "  cohortctl keys generate|rotate --root_dir=DIR [--keys=3 --threshold=2]\n"
    "  cohortctl keys certify --root_dir=DIR --out=DIR [--valid_days=90]\n"
    "  cohortctl predict --socket=PATH --images=IDX --labels=IDX "
    "[--count=10 --start=0 --batch=32] [--json]\n"
    "  cohortctl examples add --socket=PATH --population=NAME --images=IDX "
    "--labels=IDX [--count=10 --start=0 --batch=32]\n";
// After the admin commands' lines (cohort::tools::AdminUsage()).
constexpr char kUsageTail[] =
    "model optimize: trains or imports an fp32 model, derives ptq_int8,\n"
    "qat_int8, pruned (and pruned_int8) and distilled variants, writes\n"
    "<variant>.weights.pb and report.{txt,json} into --out and prints a\n"
    "report.\n"
    "model export: writes a model's weights as a TorchScript module or an\n"
    "ONNX file (fp32, or int8 in quantize/dequantize form) whose input is\n"
    "float images [N, 1, 28, 28] of pixel/255 and whose output is the logits.\n"
    "With --manifest and --root it exports a signed release: the weights\n"
    "must be the release's, and the fp32 ONNX file must match the digest\n"
    "the release signed.\n"
    "keys: the offline root of trust (k of n root keys) and the release key\n"
    "it certifies for the coordinator (docs/LIFECYCLE.md).\n"
    "versions, releases, status, tasks, devices, rollback, promote, pin,\n"
    "pause, resume: the coordinator's admin API over mTLS with an operator\n"
    "certificate. rollback, promote and pin publish a version's weights\n"
    "under a new, higher release (pin also holds every new version until\n"
    "the next promote or rollback); pause stops opening rounds until resume\n"
    "(docs/LIFECYCLE.md, \"Rollback runbook\").\n"
    "predict: asks a device agent's local Predict service (its\n"
    "local_api.socket_path) about images of an IDX pair and prints the\n"
    "answers, the model that gave them and the accuracy.\n"
    "examples add: adds images of an IDX pair to a population of the\n"
    "agent's example store, as an application on the device would.";

int ModelOptimize() {
  cohort::tools::OptimizeOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.torchscript = absl::GetFlag(FLAGS_torchscript);
  o.out_dir = absl::GetFlag(FLAGS_out);
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.train_examples = absl::GetFlag(FLAGS_train_examples);
  o.test_examples = absl::GetFlag(FLAGS_test_examples);
  o.epochs = absl::GetFlag(FLAGS_epochs);
  o.qat_epochs = absl::GetFlag(FLAGS_qat_epochs);
  o.prune_fraction = absl::GetFlag(FLAGS_prune_fraction);
  o.prune_finetune_epochs = absl::GetFlag(FLAGS_prune_epochs);
  o.student_arch = absl::GetFlag(FLAGS_student);
  o.distill_epochs = absl::GetFlag(FLAGS_distill_epochs);
  o.train_threads = absl::GetFlag(FLAGS_train_threads);
  o.bench_threads = absl::GetFlag(FLAGS_bench_threads);
  o.latency.runs_batch1 = absl::GetFlag(FLAGS_runs_b1);
  o.latency.runs_batch32 = absl::GetFlag(FLAGS_runs_b32);
  if (o.out_dir.empty()) {
    std::fprintf(stderr, "cohortctl: --out is required (see --help)\n");
    return 2;
  }
  auto reports = cohort::tools::RunModelOptimize(o);
  if (!reports.ok()) {
    std::fprintf(stderr, "cohortctl: %s\n",
                 reports.status().ToString().c_str());
    return 1;
  }
  const std::string table = cohort::tools::FormatTable(*reports);
  const std::string json = cohort::tools::FormatJson(*reports);
  for (const auto& [name, text] :
       {std::pair{"/report.txt", &table}, std::pair{"/report.json", &json}}) {
    absl::Status s = cohort::base::WriteFileAtomically(o.out_dir + name, *text);
    if (!s.ok()) {
      std::fprintf(stderr, "cohortctl: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::fputs(absl::GetFlag(FLAGS_json) ? json.c_str() : table.c_str(), stdout);
  return 0;
}

int ModelExport() {
  cohort::tools::ExportOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.torchscript = absl::GetFlag(FLAGS_torchscript);
  o.weights_path = absl::GetFlag(FLAGS_weights);
  o.format = absl::GetFlag(FLAGS_format);
  o.precision = absl::GetFlag(FLAGS_precision);
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.manifest_path = absl::GetFlag(FLAGS_manifest);
  o.root_path = absl::GetFlag(FLAGS_root);
  o.out = absl::GetFlag(FLAGS_out);
  absl::StatusOr<std::string> done = cohort::tools::RunModelExport(o);
  if (!done.ok()) {
    std::fprintf(stderr, "cohortctl: %s\n", done.status().ToString().c_str());
    return done.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf("%s\n", done->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      absl::StrCat(kUsageHead, cohort::tools::AdminUsage(), kUsageTail);
  std::vector<char*> args =
      cohort::base::ParseCommandLine(argc, argv, usage.c_str());
  cohort::base::InitLogging(argv[0]);
  const std::vector<std::string> command(args.begin() + 1, args.end());
  if (command == std::vector<std::string>{"model", "optimize"}) {
    return ModelOptimize();
  }
  if (command == std::vector<std::string>{"model", "export"}) {
    return ModelExport();
  }
  if (command.size() == 2 && command[0] == "keys") {
    return cohort::tools::RunKeysCommand(command[1], absl::GetFlag(FLAGS_out),
                                         absl::GetFlag(FLAGS_json));
  }
  if (command == std::vector<std::string>{"examples", "add"}) {
    return cohort::tools::RunExamplesAddCommand();
  }
  if (command == std::vector<std::string>{"predict"}) {
    return cohort::tools::RunPredictCommand(absl::GetFlag(FLAGS_json));
  }
  if (command.size() == 1 && cohort::tools::IsAdminCommand(command[0])) {
    return cohort::tools::RunAdminCommand(command[0],
                                          absl::GetFlag(FLAGS_json));
  }
  std::fprintf(stderr, "cohortctl: unknown command\n%s\n", usage.c_str());
  return 2;
}
