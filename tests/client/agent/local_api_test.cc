// The agent's local API over a real Unix socket: examples in, predictions
// out, and every kind of bad input answered without harm.

#include "client/agent/local_api.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/agent/local_client.h"
#include "client/agent/serving_model.h"
#include "client/examples/example_store.h"
#include "common/crypto/sha256.h"
#include "common/ml/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_tree.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// An "mlp" with weights from `seed`, ready to serve as `version`.
std::shared_ptr<ServingModel> MlpModel(uint64_t seed, int64_t version,
                                       bool int8 = false,
                                       const data::ImageDataset& calibration = {}) {
  auto model = ml::Model::Create("mlp", seed);
  EXPECT_TRUE(model.ok()) << model.status();
  const cohort::v1::Weights weights = (*model)->GetWeights();
  ServedModelInfo info;
  info.architecture = "mlp";
  info.sha256 = crypto::Sha256Hex(weights.SerializeAsString());
  info.version = version;
  info.release = version + 100;
  auto served = ServingModel::Create(weights, info, int8, calibration);
  EXPECT_TRUE(served.ok()) << served.status();
  return served.ok() ? std::shared_ptr<ServingModel>(*std::move(served))
                     : nullptr;
}

// `n` inputs of 784 intensities k / 255.
std::vector<float> Inputs(int n, int offset = 0) {
  std::vector<float> values(static_cast<size_t>(n) * kServingValues);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>((i * 7 + offset) % 256) / 255.0f;
  }
  return values;
}

// n images of 28 x 28 pixels with labels cycling through 10 classes.
data::ImageDataset Images(int n) {
  data::ImageDataset d;
  d.num_examples = n;
  d.height = kServingHeight;
  d.width = kServingWidth;
  d.images.resize(static_cast<size_t>(n) * kServingValues);
  for (size_t i = 0; i < d.images.size(); ++i) d.images[i] = (i * 13) % 256;
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 10);
  return d;
}

class LocalApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("local_api");
    // sockaddr_un allows 107 bytes: a short path of its own.
    static std::atomic<int> next{0};
    socket_ = absl::StrCat("/tmp/cohort-la-", getpid(), "-", next++, ".sock");
    unlink(socket_.c_str());
    auto store = ExampleStore::Open(dir_ + "/examples.db", &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    options_.socket_path = socket_;
    options_.max_batch = 8;
    options_.max_add_batch = 16;
  }
  void TearDown() override { server_.reset(); }

  void Start(ExampleStore* store) {
    auto server = LocalApiServer::Start(options_, store, &served_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  static cohort::v1::PopulationSpec Spec(const std::string& name) {
    cohort::v1::PopulationSpec spec;
    spec.set_name(name);
    spec.add_shape(1);
    spec.add_shape(28);
    spec.add_shape(28);
    spec.set_num_classes(10);
    return spec;
  }

  static cohort::v1::AddExamplesRequest Adding(const std::string& population,
                                               int n) {
    cohort::v1::AddExamplesRequest request;
    request.set_population(population);
    const std::vector<float> values = Inputs(n);
    for (int i = 0; i < n; ++i) {
      cohort::v1::LocalExample* e = request.add_examples();
      e->mutable_features()->Add(values.begin() + i * kServingValues,
                                 values.begin() + (i + 1) * kServingValues);
      e->set_label(i % 10);
    }
    return request;
  }

  std::string dir_;
  std::string socket_;
  testing::FakeClock clock_;
  std::unique_ptr<ExampleStore> store_;
  ServedModel served_;
  LocalApiOptions options_;
  std::unique_ptr<LocalApiServer> server_;
};

TEST_F(LocalApiTest, ApplicationsAddExamplesTheStoreKeeps) {
  Start(store_.get());
  LocalClient client(socket_);
  ASSERT_TRUE(client.DefinePopulation(Spec("photos")).ok());
  absl::StatusOr<int64_t> held = client.AddExamples(Adding("photos", 5));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held, 5);
  held = client.AddExamples(Adding("photos", 3));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held, 8);
  auto count = client.CountExamples("photos");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(count->held(), 8);
  EXPECT_EQ(count->added(), 8);
  // In the store itself, exactly as sent.
  auto batch = store_->LoadFeatures("photos", 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->num_examples, 8);
  const std::vector<float> sent = Inputs(3);
  EXPECT_EQ(std::vector<float>(batch->features.begin(),
                               batch->features.begin() + kServingValues),
            std::vector<float>(sent.begin() + 2 * kServingValues,
                               sent.begin() + 3 * kServingValues));
}

TEST_F(LocalApiTest, ExamplesThatDoNotFitAreRefusedAndNothingIsStored) {
  Start(store_.get());
  LocalClient client(socket_);
  ASSERT_TRUE(client.DefinePopulation(Spec("photos")).ok());
  cohort::v1::AddExamplesRequest bad = Adding("photos", 3);
  bad.mutable_examples(1)->set_features(5, 1.5f);
  absl::Status refused = client.AddExamples(bad).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("example 1 of 3"));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("outside [0, 1]"));

  cohort::v1::AddExamplesRequest short_one = Adding("photos", 1);
  short_one.mutable_examples(0)->mutable_features()->RemoveLast();
  EXPECT_EQ(client.AddExamples(short_one).status().code(),
            absl::StatusCode::kInvalidArgument);
  cohort::v1::AddExamplesRequest bad_label = Adding("photos", 1);
  bad_label.mutable_examples(0)->set_label(10);
  EXPECT_EQ(client.AddExamples(bad_label).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.AddExamples(Adding("nobody", 1)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client.AddExamples(Adding("Bad Name", 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // More than max_add_batch (16) in one call.
  absl::Status too_many = client.AddExamples(Adding("photos", 17)).status();
  EXPECT_EQ(too_many.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(too_many.message()), HasSubstr("max_add_batch"));
  // None of the refused calls stored anything.
  auto count = client.CountExamples("photos");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(count->held(), 0);
}

TEST_F(LocalApiTest, AnAgentWithoutAStoreSaysHowToGetOne) {
  Start(nullptr);
  LocalClient client(socket_);
  absl::Status no_store = client.DefinePopulation(Spec("photos"));
  EXPECT_EQ(no_store.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(no_store.message()), HasSubstr("example_store.path"));
}

TEST_F(LocalApiTest, PredictAnswersWithTheServedModel) {
  Start(store_.get());
  LocalClient client(socket_);
  absl::Status none = client.Predict(Inputs(1), 1).status();
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.message()), HasSubstr("no verified model"));

  std::shared_ptr<ServingModel> model = MlpModel(3, 7);
  served_.Swap(model);
  auto answer = client.Predict(Inputs(4), 4);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->model_version(), 7);
  EXPECT_EQ(answer->release(), 107);
  EXPECT_EQ(answer->kernels(), "fp32");
  ASSERT_EQ(answer->num_classes(), 10);
  ASSERT_EQ(answer->labels_size(), 4);
  ASSERT_EQ(answer->probabilities_size(), 40);
  // The same answer as the model in-process.
  auto local = model->Predict(Inputs(4), 4);
  ASSERT_TRUE(local.ok()) << local.status();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(answer->labels(i), local->labels[i]);
    double sum = 0;
    for (int c = 0; c < 10; ++c) {
      EXPECT_FLOAT_EQ(answer->probabilities(i * 10 + c),
                      local->probabilities[i * 10 + c]);
      sum += answer->probabilities(i * 10 + c);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

TEST_F(LocalApiTest, MalformedPredictionsAreRefusedClearly) {
  Start(store_.get());
  served_.Swap(MlpModel(3, 1));
  LocalClient client(socket_);
  auto code = [&](const std::vector<float>& values, int batch) {
    return client.Predict(values, batch).status();
  };
  EXPECT_EQ(code(Inputs(9), 9).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(code(Inputs(9), 9).message()),
              HasSubstr("local_api.max_batch"));
  EXPECT_EQ(code({}, 0).code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> short_input = Inputs(2);
  short_input.pop_back();
  EXPECT_THAT(std::string(code(short_input, 2).message()),
              HasSubstr("expected 1568 values"));
  std::vector<float> nan = Inputs(2);
  nan[kServingValues + 3] = std::nanf("");
  absl::Status bad_value = code(nan, 2);
  EXPECT_EQ(bad_value.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_value.message()), StartsWith("input 1: "));
  EXPECT_THAT(std::string(bad_value.message()), HasSubstr("NaN"));
  std::vector<float> raw = Inputs(1);
  raw[0] = 255.0f;  // raw pixels instead of intensities
  EXPECT_THAT(std::string(code(raw, 1).message()), HasSubstr("outside [0, 1]"));
  // Still serving.
  EXPECT_TRUE(client.Predict(Inputs(1), 1).ok());
}

TEST_F(LocalApiTest, OversizedRequestIsRefusedAndServingGoesOn) {
  Start(store_.get());
  served_.Swap(MlpModel(3, 1));
  LocalClient client(socket_);
  // 9M floats: 36 MB, over the 32 MiB limit.
  std::vector<float> huge(9'000'000, 0.5f);
  absl::Status refused = client.Predict(huge, 1).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_TRUE(client.Predict(Inputs(1), 1).ok());
}

// Raw bytes on the socket, a client that stops mid-message and one that
// hangs up at once: the server drops each and serves the next call.
TEST_F(LocalApiTest, GarbageAndVanishingClientsDoNotHurtTheServer) {
  Start(store_.get());
  served_.Swap(MlpModel(3, 1));
  auto raw = [&](const std::string& bytes) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(),
                 sizeof(address.sun_path) - 1);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address),
                      sizeof(address)),
              0);
    if (!bytes.empty()) {
      ASSERT_EQ(write(fd, bytes.data(), bytes.size()),
                static_cast<ssize_t>(bytes.size()));
    }
    close(fd);
  };
  raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  raw(std::string(4096, '\xff'));
  // The HTTP/2 preface, then a DATA frame header promising bytes that never
  // come.
  raw(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
      std::string("\x00\x40\x00\x00\x00\x00\x00\x00\x01", 9));
  raw("");
  LocalClient client(socket_);
  auto answer = client.Predict(Inputs(2), 2);
  EXPECT_TRUE(answer.ok()) << answer.status();
}

// Swapping releases while applications keep asking: no call fails, and
// each answer comes from one of the two models.
TEST_F(LocalApiTest, SwapDropsNoRequest) {
  Start(store_.get());
  served_.Swap(MlpModel(1, 1));
  std::shared_ptr<ServingModel> other = MlpModel(2, 2);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> answers{0};
  std::atomic<int> from_second{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      LocalClient client(socket_);
      while (!done.load()) {
        auto answer = client.Predict(Inputs(1), 1);
        if (!answer.ok() || (answer->model_version() != 1 &&
                             answer->model_version() != 2)) {
          ++failures;
        }
        if (answer.ok() && answer->model_version() == 2) ++from_second;
        ++answers;
      }
    });
  }
  std::shared_ptr<ServingModel> first = served_.Current();
  for (int i = 0; i < 40; ++i) {
    served_.Swap(i % 2 == 0 ? other : first);
    absl::SleepFor(absl::Milliseconds(5));
  }
  done = true;
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(answers.load(), 20);
  // Both models answered: the swaps took effect.
  EXPECT_GT(from_second.load(), 0);
  EXPECT_LT(from_second.load(), answers.load());
}

TEST_F(LocalApiTest, Int8KernelsNeedCalibrationExamples) {
  std::shared_ptr<ServingModel> int8 = MlpModel(4, 1, true, Images(64));
  ASSERT_NE(int8, nullptr);
  EXPECT_THAT(int8->info().kernels, StartsWith("int8/"));
  auto answer = int8->Predict(Inputs(3), 3);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->labels.size(), 3u);
  // Without local examples an int8 request is served on fp32 kernels.
  std::shared_ptr<ServingModel> fallback = MlpModel(4, 1, true);
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->info().kernels, "fp32");
}

TEST_F(LocalApiTest, SocketIsForOwnerAndGroupOnly) {
  Start(store_.get());
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  server_.reset();
  // Stopping removes the socket file.
  EXPECT_NE(stat(socket_.c_str(), &st), 0);
}

TEST_F(LocalApiTest, StaleSocketIsReplacedOtherFilesAndLiveAgentsAreNot) {
  // A socket nobody listens on, as a killed agent leaves it.
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(),
                 sizeof(address.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
              0);
    close(fd);
  }
  Start(store_.get());
  // A second agent on the same path is refused while the first listens.
  auto second = LocalApiServer::Start(options_, store_.get(), &served_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("another process listens"));
  server_.reset();
  // A regular file is never removed.
  std::ofstream(socket_) << "not a socket";
  auto over_file = LocalApiServer::Start(options_, store_.get(), &served_);
  EXPECT_EQ(over_file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(over_file.status().message()),
              HasSubstr("not a socket"));
  unlink(socket_.c_str());
  options_.socket_path = dir_ + "/missing/folder/agent.sock";
  EXPECT_EQ(LocalApiServer::Start(options_, store_.get(), &served_)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cohort::client
