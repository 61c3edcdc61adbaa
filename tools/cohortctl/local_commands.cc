#include "tools/cohortctl/local_commands.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/agent/local_client.h"
#include "client/examples/feature_codec.h"
#include "common/data/idx_reader.h"

ABSL_FLAG(std::string, socket, "/run/cohort-agent/local.sock",
          "predict, examples: the agent's local API socket "
          "(local_api.socket_path).");
ABSL_FLAG(std::string, images, "",
          "predict, examples: IDX images file (28x28, gzipped or plain).");
ABSL_FLAG(std::string, labels, "",
          "predict, examples: the IDX labels file beside it.");
ABSL_FLAG(int64_t, count, 10, "predict, examples: how many images.");
ABSL_FLAG(int64_t, start, 0, "predict, examples: index of the first image.");
ABSL_FLAG(int, batch, 32, "predict, examples: images per call (at most the "
          "agent's local_api.max_batch, or max_add_batch).");
ABSL_FLAG(std::string, population, "fashion_mnist",
          "examples: the population to add to (example_store.population).");

namespace cohort::tools {
namespace {

struct Answer {
  int label = 0;
  float confidence = 0;
  int truth = 0;
};

struct Served {
  int64_t version = 0;
  int64_t release = 0;
  std::string kernels;
};

int Usage(const std::string& command, const std::string& why) {
  std::fprintf(stderr, "cohortctl %s: %s\n", command.c_str(), why.c_str());
  return 2;
}

int Failed(const std::string& command, const absl::Status& status) {
  std::fprintf(stderr, "cohortctl %s: %s\n", command.c_str(),
               status.ToString().c_str());
  return 1;
}

// Images [start, start + count) of the --images/--labels pair, checked.
// Usage's exit code on error.
struct Selection {
  data::ImageDataset data;
  int64_t start = 0;
  int64_t count = 0;
  int batch = 0;
};
absl::StatusOr<Selection> Select() {
  Selection s;
  s.start = absl::GetFlag(FLAGS_start);
  s.count = absl::GetFlag(FLAGS_count);
  s.batch = absl::GetFlag(FLAGS_batch);
  if (absl::GetFlag(FLAGS_images).empty() ||
      absl::GetFlag(FLAGS_labels).empty()) {
    return absl::InvalidArgumentError("--images and --labels are required");
  }
  if (s.start < 0 || s.count < 1 || s.batch < 1) {
    return absl::InvalidArgumentError(
        "--start must be >= 0, --count and --batch >= 1");
  }
  auto data = data::ReadIdxImages(absl::GetFlag(FLAGS_images),
                                  absl::GetFlag(FLAGS_labels),
                                  s.start + s.count);
  if (!data.ok()) return data.status();
  if (data->num_examples < s.start + s.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("the files hold ", data->num_examples,
                     " images; asked for [", s.start, ", ", s.start + s.count,
                     ")"));
  }
  s.data = *std::move(data);
  return s;
}

std::string Format(const std::vector<Answer>& answers, const Served& served,
                   int64_t start, bool json) {
  int64_t right = 0;
  for (const Answer& a : answers) right += a.label == a.truth;
  const double accuracy =
      answers.empty() ? 0.0 : static_cast<double>(right) / answers.size();
  std::string out;
  if (json) {
    absl::StrAppendFormat(&out,
                          "{\"model_version\": %d, \"release\": %d, "
                          "\"kernels\": \"%s\", \"accuracy\": %.4f, "
                          "\"predictions\": [",
                          served.version, served.release, served.kernels,
                          accuracy);
    for (size_t i = 0; i < answers.size(); ++i) {
      absl::StrAppendFormat(
          &out, "%s{\"index\": %d, \"label\": %d, \"confidence\": %.4f, "
                "\"truth\": %d}",
          i == 0 ? "" : ", ", start + static_cast<int64_t>(i),
          answers[i].label, answers[i].confidence, answers[i].truth);
    }
    return out + "]}\n";
  }
  absl::StrAppendFormat(&out, "model version %d, release %d, kernels %s\n",
                        served.version, served.release, served.kernels);
  absl::StrAppend(&out, "index  label  confidence  truth\n");
  for (size_t i = 0; i < answers.size(); ++i) {
    absl::StrAppendFormat(&out, "%5d  %5d  %10.4f  %5d\n",
                          start + static_cast<int64_t>(i), answers[i].label,
                          answers[i].confidence, answers[i].truth);
  }
  absl::StrAppendFormat(&out, "accuracy %.4f over %d images\n", accuracy,
                        answers.size());
  return out;
}

}  // namespace

int RunPredictCommand(bool json) {
  absl::StatusOr<Selection> s = Select();
  if (!s.ok()) return Usage("predict", s.status().ToString());
  client::LocalClient agent(absl::GetFlag(FLAGS_socket));
  std::vector<Answer> answers;
  Served served;
  const int64_t end = s->start + s->count;
  for (int64_t first = s->start; first < end; first += s->batch) {
    const int n = static_cast<int>(std::min<int64_t>(s->batch, end - first));
    auto reply = agent.Predict(client::IntensitiesOf(s->data, first, n), n);
    if (!reply.ok()) return Failed("predict", reply.status());
    served = {reply->model_version(), reply->release(), reply->kernels()};
    const int classes = reply->num_classes();
    if (reply->labels_size() != n ||
        reply->probabilities_size() != n * classes) {
      return Failed("predict", absl::InternalError("malformed answer"));
    }
    for (int i = 0; i < n; ++i) {
      const int label = reply->labels(i);
      const bool known = label >= 0 && label < classes;
      answers.push_back(
          {label, known ? reply->probabilities(i * classes + label) : 0.0f,
           s->data.labels[first + i]});
    }
  }
  std::fputs(Format(answers, served, s->start, json).c_str(), stdout);
  return 0;
}

int RunExamplesAddCommand() {
  absl::StatusOr<Selection> s = Select();
  if (!s.ok()) return Usage("examples add", s.status().ToString());
  const std::string population = absl::GetFlag(FLAGS_population);
  client::LocalClient agent(absl::GetFlag(FLAGS_socket));
  cohort::v1::PopulationSpec spec;
  spec.set_name(population);
  for (int64_t d : {int64_t{1}, int64_t{s->data.height},
                    int64_t{s->data.width}}) {
    spec.add_shape(d);
  }
  spec.set_num_classes(s->data.num_classes);
  if (absl::Status defined = agent.DefinePopulation(spec); !defined.ok()) {
    return Failed("examples add", defined);
  }
  int64_t held = 0;
  const int64_t values = int64_t{s->data.height} * s->data.width;
  const int64_t end = s->start + s->count;
  for (int64_t first = s->start; first < end; first += s->batch) {
    const int n = static_cast<int>(std::min<int64_t>(s->batch, end - first));
    const std::vector<float> inputs = client::IntensitiesOf(s->data, first, n);
    cohort::v1::AddExamplesRequest request;
    request.set_population(population);
    for (int i = 0; i < n; ++i) {
      cohort::v1::LocalExample* e = request.add_examples();
      e->mutable_features()->Add(inputs.begin() + i * values,
                                 inputs.begin() + (i + 1) * values);
      e->set_label(s->data.labels[first + i]);
    }
    absl::StatusOr<int64_t> added = agent.AddExamples(request);
    if (!added.ok()) return Failed("examples add", added.status());
    held = *added;
  }
  std::printf("added %lld examples to %s; it holds %lld\n",
              static_cast<long long>(s->count), population.c_str(),
              static_cast<long long>(held));
  return 0;
}

}  // namespace cohort::tools
