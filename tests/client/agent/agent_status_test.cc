// `cohort-agent status`: what it shows for an empty and a held state
// directory, in text and JSON; corrupt files shown as unreadable; the
// directory left exactly as it was; its rules agreeing with the agent's own
// (Budgets, EligibilityPolicy); and JSON strings escaped.

#include "client/agent/agent_status.h"

#include <unistd.h>

#include <cstdint>
#include <sys/wait.h>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "client/agent/budgets.h"
#include "client/agent/eligibility.h"
#include "client/agent/last_round.h"
#include "client/agent/model_cache.h"
#include "client/agent/state_file.h"
#include "client/agent/status_format.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/fake_probes.h"
#include "tests/testing/fake_clock.h"

namespace cohort::client {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Every file and folder under `dir`, with each file's contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name =
        entry.path().lexically_relative(dir).string();
    if (!entry.is_regular_file()) {
      files[name] = "<folder>";
      continue;
    }
    auto text = base::ReadFile(entry.path().string());
    files[name] = text.ok() ? *text : "<unreadable>";
  }
  return files;
}

// Writes `contents` to `path`, creating its folders.
void Put(const std::string& path, const std::string& contents) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << contents;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class AgentStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/agent_status_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    options_.device_id = "dev-1";
    options_.state_dir = dir_;
  }

  // The status at noon UTC on 31 May 2024, with the device reading power_,
  // a load of 0.5 and 20 C (read only by the rules that are on), and
  // holding `examples`.
  AgentStatus ReadStatus(int64_t examples = 0) {
    auto power = std::make_unique<FakePowerProbe>();
    power->script.readings = {power_};
    auto load = std::make_unique<FakeLoadProbe>();
    load->script.readings = {absl::StatusOr<double>(0.5)};
    auto thermal = std::make_unique<FakeThermalProbe>();
    thermal->script.readings = {
        absl::StatusOr<std::optional<double>>(std::optional<double>(20.0))};
    StatusEnvironment environment;
    environment.probes.power = std::move(power);
    environment.probes.load = std::move(load);
    environment.probes.thermal = std::move(thermal);
    environment.clock = &clock_;
    environment.zone = absl::UTCTimeZone();
    environment.examples_added = [examples]() -> absl::StatusOr<int64_t> {
      return examples;
    };
    return ReadAgentStatus(options_, std::move(environment));
  }

  // The model "model bytes" of architecture mnist_mlp, cached; its SHA-256.
  std::string PutModel() {
    const std::string bytes = "model bytes";
    Put(ModelCache::ModelPath(dir_), bytes);
    Put(ModelCache::ArchitecturePath(dir_), "mnist_mlp");
    return crypto::Sha256Hex(bytes);
  }

  void PutBudgets(int64_t day, int64_t rounds, int64_t sent,
                  int64_t received) {
    const StateValues values = {{"day", day},
                                {"rounds", rounds},
                                {"uploaded_bytes", sent},
                                {"downloaded_bytes", received}};
    ASSERT_TRUE(SaveStateValues(dir_ + "/budgets", values, "test").ok());
  }

  std::string dir_;
  AgentOptions options_;
  absl::StatusOr<PowerState> power_ = OnAc();
  testing::FakeClock clock_{absl::FromCivil(
      absl::CivilSecond(2024, 5, 31, 12, 0, 0), absl::UTCTimeZone())};
};

TEST_F(AgentStatusTest, EmptyStateDirShowsNothingHeldAndIsNotCreated) {
  const AgentStatus status = ReadStatus();
  EXPECT_FALSE(std::filesystem::exists(dir_));
  ASSERT_TRUE(status.model.ok()) << status.model.status();
  EXPECT_TRUE(status.model->sha256.empty());
  EXPECT_EQ(status.release.highest_held.value_or(-1), 0);
  EXPECT_TRUE(status.eligibility.eligible);
  EXPECT_EQ(status.last_round.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FormatAgentStatus(status, false),
            "  device_id: dev-1\n"
            "  state_dir: " + dir_ + "\n"
            "      model: none\n"
            "    release: highest held none, root pinned none\n"
            "eligibility: eligible\n"
            "    budgets: no daily caps (usage is not kept)\n"
            " last_round: none\n");
  EXPECT_EQ(FormatAgentStatus(status, true),
            "{\"device_id\": \"dev-1\", \"state_dir\": \"" + dir_ +
                "\", \"model\": {\"version\": null, \"architecture\": null, "
                "\"sha256\": null}, \"release\": {\"highest_held\": null, "
                "\"root_pinned\": null}, \"eligibility\": {\"eligible\": "
                "true, \"reason\": null}, \"budgets\": {\"daily_caps\": false, "
                "\"day\": \"2024-05-31\", \"rounds_used\": null, "
                "\"rounds_max\": null, \"bytes_sent\": null, "
                "\"bytes_sent_max\": null, \"bytes_received\": null, "
                "\"bytes_received_max\": null}, \"last_round\": null}\n");
}

TEST_F(AgentStatusTest, HeldStateShowsModelReleaseBudgetsAndLastRound) {
  const std::string sha256 = PutModel();
  Put(ModelCache::ReleasePath(dir_), "3\n");
  options_.trusted_root_path = "/etc/cohort-agent/root.pb";
  options_.budgets.max_rounds_per_day = 24;
  options_.budgets.max_download_bytes_per_day = 104857600;
  PutBudgets(20240531, 3, 1048576, 52428800);
  LastRound last;
  last.round = 42;
  last.result = RoundResult::kAccepted;
  last.at = absl::FromUnixSeconds(1717149600);  // 2024-05-31 10:00 UTC
  last.model_version = 7;
  last.model_sha256 = sha256;
  ASSERT_TRUE(WriteLastRound(dir_, last).ok());

  const AgentStatus status = ReadStatus();
  EXPECT_EQ(FormatAgentStatus(status, false),
            "  device_id: dev-1\n"
            "  state_dir: " + dir_ + "\n"
            "      model: version 7, architecture mnist_mlp, sha256 " +
                sha256 + "\n"
            "    release: highest held 3, root pinned "
            "/etc/cohort-agent/root.pb\n"
            "eligibility: eligible\n"
            "    budgets: 2024-05-31: rounds 3/24, bytes sent "
            "1048576/unlimited, bytes received 52428800/104857600\n"
            " last_round: round 42 accepted at 2024-05-31T10:00:00Z, model "
            "version 7\n");
  const std::string json = FormatAgentStatus(status, true);
  EXPECT_THAT(json, HasSubstr("\"model\": {\"version\": 7, \"architecture\": "
                              "\"mnist_mlp\", \"sha256\": \"" +
                              sha256 + "\"}"));
  EXPECT_THAT(json, HasSubstr("\"release\": {\"highest_held\": 3, "
                              "\"root_pinned\": \"/etc/cohort-agent/root.pb\"}"));
  EXPECT_THAT(json, HasSubstr("\"eligibility\": {\"eligible\": true, "
                              "\"reason\": null}"));
  EXPECT_THAT(json,
              HasSubstr("\"budgets\": {\"daily_caps\": true, \"day\": "
                        "\"2024-05-31\", \"rounds_used\": 3, \"rounds_max\": "
                        "24, \"bytes_sent\": 1048576, \"bytes_sent_max\": "
                        "null, \"bytes_received\": 52428800, "
                        "\"bytes_received_max\": 104857600}"));
  EXPECT_THAT(json, HasSubstr("\"last_round\": {\"round\": 42, \"result\": "
                              "\"accepted\", \"reason\": null, \"at\": "
                              "\"2024-05-31T10:00:00Z\", \"model_version\": "
                              "7}}\n"));
}

TEST_F(AgentStatusTest, AbandonedRoundShowsItsReasonAndYesterdayCountsNothing) {
  options_.device_id = "dev \"1\"\n";
  options_.budgets.max_rounds_per_day = 2;
  PutBudgets(20240530, 2, 10, 20);  // spent, but yesterday
  LastRound last;
  last.round = 5;
  last.at = absl::FromUnixSeconds(1717149600);
  last.model_version = 7;
  last.reason = "ABORTED: round 5: \"deadline\" passed";
  ASSERT_TRUE(WriteLastRound(dir_, last).ok());

  const AgentStatus status = ReadStatus();
  EXPECT_TRUE(status.eligibility.eligible) << status.eligibility.reason;
  const std::vector<std::string> lines =
      Lines(FormatAgentStatus(status, false));
  EXPECT_THAT(lines, Contains("    budgets: 2024-05-31: rounds 0/2, bytes "
                              "sent 0/unlimited, bytes received 0/unlimited"));
  EXPECT_THAT(lines, Contains(" last_round: round 5 abandoned at "
                              "2024-05-31T10:00:00Z, model version 7, reason: "
                              "ABORTED: round 5: \"deadline\" passed"));
  const std::string json = FormatAgentStatus(status, true);
  EXPECT_THAT(json, StartsWith("{\"device_id\": \"dev \\\"1\\\"\\n\", "));
  EXPECT_THAT(json, HasSubstr("\"result\": \"abandoned\", \"reason\": "
                              "\"ABORTED: round 5: \\\"deadline\\\" passed\""));
}

TEST_F(AgentStatusTest, CorruptLastRoundIsUnreadableAndTheRestIsShown) {
  const std::string sha256 = PutModel();
  Put(ModelCache::ReleasePath(dir_), "3\n");
  Put(LastRoundPath(dir_), "round forty-two\nresult accepted\n");

  const AgentStatus status = ReadStatus();
  EXPECT_EQ(status.last_round.status().code(), absl::StatusCode::kDataLoss);
  const std::vector<std::string> lines =
      Lines(FormatAgentStatus(status, false));
  EXPECT_THAT(lines, Contains(StartsWith(" last_round: unreadable (" +
                                         LastRoundPath(dir_) + ": ")));
  // Without a readable round, the model's version is not known.
  EXPECT_THAT(lines, Contains("      model: version unknown, architecture "
                              "mnist_mlp, sha256 " + sha256));
  EXPECT_THAT(lines,
              Contains("    release: highest held 3, root pinned none"));
  EXPECT_THAT(FormatAgentStatus(status, true),
              HasSubstr("\"last_round\": {\"unreadable\": \"" +
                        LastRoundPath(dir_) + ": round \\\"forty-two\\\""));
}

// Files the agent's own classes would move aside, read while every rule
// that reads them is on: the status reports them and changes nothing.
TEST_F(AgentStatusTest, StatusChangesNothingInTheStateDir) {
  options_.budgets.max_rounds_per_day = 24;
  options_.eligibility.min_new_examples = 10;
  PutModel();
  Put(ModelCache::ReleasePath(dir_), "three\n");
  Put(dir_ + "/budgets",
      "day 20241301\nrounds 1\nuploaded_bytes 0\ndownloaded_bytes 0\n");
  Put(dir_ + "/eligibility", "examples_at_last_round lots\n");
  Put(LastRoundPath(dir_), "garbage\n");
  const std::map<std::string, std::string> before = Snapshot(dir_);
  ASSERT_EQ(before.size(), 6u);

  const AgentStatus status = ReadStatus(100);
  const std::string text = FormatAgentStatus(status, false);
  FormatAgentStatus(status, true);
  EXPECT_EQ(Snapshot(dir_), before);

  EXPECT_FALSE(status.release.highest_held.ok());
  EXPECT_FALSE(status.budgets.ok());
  EXPECT_FALSE(status.last_round.ok());
  EXPECT_FALSE(status.eligibility.eligible);
  EXPECT_THAT(status.eligibility.reason,
              StartsWith("eligibility.min_new_examples: " + dir_ +
                         "/eligibility: "));
  EXPECT_THAT(Lines(text),
              Contains("    budgets: unreadable (" + dir_ +
                       "/budgets: day 20241301 is no date)"));
  // The agent's Budgets would have moved that file aside.
  {
    Budgets budgets(options_.budgets, dir_,
                    std::make_unique<FakeMemoryProbe>(), &clock_,
                    absl::UTCTimeZone());
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/budgets.corrupt"));
}

// The unit's state directory is 0700: to anyone else it is unreadable,
// which must not read as "nothing held".
// Whether `check` holds when run as a user who may not enter the state
// directory: in a child that drops to the unprivileged user nobody when
// this process is root (root enters any folder), else in this process.
bool HoldsUnprivileged(const std::function<bool()>& check) {
  if (::geteuid() != 0) return check();
  const pid_t child = ::fork();
  if (child == 0) {
    constexpr uid_t kNobody = 65534;
    if (::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(2);
    }
    bool holds = false;
    try {
      holds = check();
    } catch (...) {
    }
    ::_exit(holds ? 0 : 1);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST_F(AgentStatusTest, StateDirThisUserMayNotEnterIsUnreadableNotEmpty) {
  PutModel();
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
  // Not root: this user closes the folder to itself. Root: the child that
  // drops to nobody finds it closed (0700, owned by root).
  if (::geteuid() != 0) {
    std::filesystem::permissions(dir_, std::filesystem::perms::none);
  }
  const bool unreadable = HoldsUnprivileged([&] {
    const AgentStatus status = ReadStatus();
    return !status.model.ok() &&
           std::string(status.model.status().message())
                   .find("cannot read " + ModelCache::ModelPath(dir_)) !=
               std::string::npos &&
           !status.release.highest_held.ok() && !status.last_round.ok() &&
           status.last_round.status().code() != absl::StatusCode::kNotFound;
  });
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
  EXPECT_TRUE(unreadable);
  // The same directory, entered, reads as a model.
  EXPECT_TRUE(ReadStatus().model.ok());
}

TEST_F(AgentStatusTest, FailingDeviceRuleMakesTheDeviceIneligible) {
  options_.eligibility.require_ac_power = true;
  power_ = OnBattery(40);
  const AgentStatus status = ReadStatus();
  EXPECT_FALSE(status.eligibility.eligible);
  EXPECT_EQ(status.eligibility.reason,
            "eligibility.require_ac_power: on battery");
  EXPECT_THAT(Lines(FormatAgentStatus(status, false)),
              Contains("eligibility: not eligible: "
                       "eligibility.require_ac_power: on battery"));
  EXPECT_THAT(FormatAgentStatus(status, true),
              HasSubstr("\"eligibility\": {\"eligible\": false, \"reason\": "
                        "\"eligibility.require_ac_power: on battery\"}"));
}

// The usage file as the agent's Budgets writes it, and the refusal as it
// words it.
TEST_F(AgentStatusTest, SpentDailyCapReadsAsBudgetsSaysIt) {
  options_.budgets.max_rounds_per_day = 2;
  options_.budgets.max_upload_bytes_per_day = 1 << 20;
  std::filesystem::create_directories(dir_);
  std::string refusal;
  {
    Budgets budgets(options_.budgets, dir_,
                    std::make_unique<FakeMemoryProbe>(), &clock_,
                    absl::UTCTimeZone());
    budgets.CountTraffic({1000, 2000});
    budgets.RoundReported();
    budgets.RoundReported();
    refusal = std::string(budgets.CheckBeforeRound().message());
  }
  ASSERT_THAT(refusal, StartsWith("budgets.max_rounds_per_day: "));
  const AgentStatus status = ReadStatus();
  ASSERT_TRUE(status.budgets.ok()) << status.budgets.status();
  EXPECT_EQ(status.budgets->usage.rounds, 2);
  EXPECT_EQ(status.budgets->usage.uploaded_bytes, 1000);
  EXPECT_EQ(status.budgets->usage.downloaded_bytes, 2000);
  EXPECT_FALSE(status.eligibility.eligible);
  EXPECT_EQ(status.eligibility.reason, refusal);
}

// The count file as the agent's EligibilityPolicy writes it, and the
// refusal as it words it.
TEST_F(AgentStatusTest, NewExamplesRuleReadsAsThePolicySaysIt) {
  options_.eligibility.min_new_examples = 10;
  std::filesystem::create_directories(dir_);
  std::string refusal;
  {
    EligibilityPolicy policy(options_.eligibility, DeviceProbes{}, &clock_,
                             absl::UTCTimeZone(), dir_);
    policy.RoundAccepted(100);
    refusal = std::string(policy.Check(105).message());
  }
  ASSERT_THAT(refusal, StartsWith("eligibility.min_new_examples: 5 new"));
  EXPECT_EQ(ReadStatus(105).eligibility.reason, refusal);
  EXPECT_TRUE(ReadStatus(110).eligibility.eligible);
}

TEST(JsonStringTest, EscapesQuotesControlsAndBytesThatAreNotUtf8) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  // A stray byte, a truncated sequence, an overlong '/', a surrogate.
  EXPECT_EQ(JsonString("\xff" "x" "\xc3"), "\"\\ufffdx\\ufffd\"");
  EXPECT_EQ(JsonString("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonString("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

}  // namespace
}  // namespace cohort::client
