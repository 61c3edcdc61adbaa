// The device side end to end: an application process adds examples to the
// agent's store over its Unix socket, the agent trains on them in signed
// rounds of a real coordinator, and `cohortctl predict` gets answers from
// the release the agent then holds.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/files.h"
#include "common/crypto/hex.h"
#include "gmock/gmock.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/testing/test_keys.h"

namespace cohort::testing {
namespace {

using ::testing::HasSubstr;

class OnDeviceTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    Write(dir_ + "/root-1.pb", keys_.Root().SerializeAsString());
    Write(dir_ + "/release-key.seed", crypto::BytesToHex(keys_.release.seed()));
    Write(dir_ + "/release-key.cert.pb",
          keys_.Certificate().SerializeAsString());
    // sockaddr_un holds 107 bytes: a short path of its own.
    socket_ = absl::StrCat("/tmp/cohort-od-", getpid(), ".sock");
    unlink(socket_.c_str());
  }

  static void Write(const std::string& path, const std::string& bytes) {
    ASSERT_TRUE(base::WriteFileAtomically(path, bytes).ok()) << path;
  }

  // cohortctl with `args`, run to its end; its exit code and output.
  std::pair<int, std::string> Cohortctl(std::vector<std::string> args,
                                        const std::string& name) {
    args.insert(args.begin(), BinaryPath("cohortctl"));
    Subprocess ctl(std::move(args), absl::StrCat(dir_, "/", name, ".log"));
    const std::optional<int> code = ctl.Wait(absl::Seconds(60));
    return {code.value_or(-1), ctl.Log()};
  }

  std::vector<std::string> Idx(const std::string& split) const {
    return {absl::StrCat("--images=", data_dir_, "/", split,
                         "-images-idx3-ubyte.gz"),
            absl::StrCat("--labels=", data_dir_, "/", split,
                         "-labels-idx1-ubyte.gz")};
  }

  bool WaitForSocket() const {
    struct stat st;
    for (int i = 0; i < 600; ++i) {
      if (stat(socket_.c_str(), &st) == 0) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  TestKeys keys_;
  std::string socket_;
};

TEST_F(OnDeviceTest, AppExamplesTrainTheModelAndPredictUsesTheNewRelease) {
  ServerOptions o = DirectoryServer();
  o.task = "on_device";
  o.goal = 1;
  o.max_rounds = 3;
  o.extra = absl::StrCat("signing { release_key_path: \"", dir_,
                         "/release-key.seed\" certificate_path: \"", dir_,
                         "/release-key.cert.pb\" }");
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();

  AgentOverrides device;
  device.extra = absl::StrCat(
      "trust { root_path: \"", dir_, "/root-1.pb\" }\n",
      "example_store { path: \"", dir_, "/examples.db\" population: "
      "\"photos\" }\n",
      "local_api { socket_path: \"", socket_, "\" }\n",
      "eligibility { recheck_interval_ms: 200 }");
  auto agent = StartAgent(0, port, o.task, device);
  ASSERT_TRUE(WaitForSocket()) << agent->Log();

  // No examples yet: the agent has not checked in, so it holds no model.
  std::vector<std::string> predict = {"predict", "--socket=" + socket_,
                                      "--count=200", "--json"};
  for (const std::string& flag : Idx("t10k")) predict.push_back(flag);
  auto [early_code, early] = Cohortctl(predict, "predict-early");
  EXPECT_EQ(early_code, 1) << early;
  EXPECT_THAT(early, HasSubstr("no verified model")) << early;

  // The application: another process, through the socket only.
  std::vector<std::string> add = {"examples", "add", "--socket=" + socket_,
                                  "--population=photos", "--count=500",
                                  "--batch=100"};
  for (const std::string& flag : Idx("train")) add.push_back(flag);
  auto [add_code, added] = Cohortctl(add, "examples-add");
  ASSERT_EQ(add_code, 0) << added;
  EXPECT_THAT(added, HasSubstr("it holds 500")) << added;

  // Three rounds, each with this one device.
  const std::optional<int> code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not finish:\n" << server->Log()
                                << "\nagent:\n" << agent->Log();
  EXPECT_EQ(*code, 0) << server->Log();

  // The release the device holds now answers.
  absl::StatusOr<std::string> held =
      base::ReadFile(dir_ + "/device-0-state/release");
  ASSERT_TRUE(held.ok()) << held.status() << agent->Log();
  int64_t release = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*held), &release));
  EXPECT_GE(release, 2) << "the agent never took a trained release";
  auto [predict_code, answer] = Cohortctl(predict, "predict");
  ASSERT_EQ(predict_code, 0) << answer << agent->Log();
  EXPECT_THAT(answer, HasSubstr(absl::StrCat("\"release\": ", release, ",")))
      << answer;
  // The signed release's artifact is int8: served on int8 kernels.
  EXPECT_THAT(answer, HasSubstr("\"kernels\": \"int8/"));
  // Trained on the application's examples: well above chance (0.1).
  const size_t at = answer.find("\"accuracy\": ");
  ASSERT_NE(at, std::string::npos) << answer;
  const double accuracy = std::stod(answer.substr(at + 12));
  EXPECT_GT(accuracy, 0.5) << answer;

  agent->Signal(SIGTERM);
  const std::optional<int> agent_code = agent->Wait(absl::Seconds(30));
  ASSERT_TRUE(agent_code.has_value()) << agent->Log();
  EXPECT_EQ(*agent_code, 0) << agent->Log();
  struct stat st;
  EXPECT_NE(stat(socket_.c_str(), &st), 0) << "the socket outlived the agent";
}

}  // namespace
}  // namespace cohort::testing
