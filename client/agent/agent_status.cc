#include "client/agent/agent_status.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "client/agent/eligibility.h"
#include "client/agent/model_cache.h"
#include "client/agent/release_guard.h"
#include "client/agent/state_file.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/sha256.h"

namespace cohort::client {
namespace {

// The StateValues files (budgets, eligibility) are a few short lines.
constexpr int64_t kMaxStateBytes = 4096;

// OK when `path` exists or plainly does not (its folder neither). Needed
// because base::ReadFile reports a file it may not even stat as missing: to
// a user who may not enter the state directory (the unit's is 0700), the
// device would look empty.
absl::Status Visible(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status found =
      std::filesystem::status(path, error);
  if (!error || found.type() == std::filesystem::file_type::not_found) {
    return absl::OkStatus();
  }
  return absl::InternalError(
      absl::StrCat("cannot read ", path, ": ", error.message()));
}

// A state directory file's text; nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadIfPresent(
    const std::string& path, int64_t max_bytes) {
  COHORT_RETURN_IF_ERROR(Visible(path));
  auto text = base::ReadFile(path, max_bytes);
  if (text.status().code() == absl::StatusCode::kNotFound) {
    return std::optional<std::string>();
  }
  if (!text.ok()) return text.status();
  return std::optional<std::string>(*std::move(text));
}

// ReadLastRound, with a file this user may not see reported as such.
absl::StatusOr<LastRound> ReadRecordedRound(const std::string& dir) {
  COHORT_RETURN_IF_ERROR(Visible(LastRoundPath(dir)));
  return ReadLastRound(dir);
}

// A StateValues file, read without moving a bad one aside as
// LoadStateValues does: nullopt when it does not exist, DATA_LOSS naming
// it when it does not parse.
absl::StatusOr<std::optional<StateValues>> PeekStateValues(
    const std::string& path, const std::vector<std::string>& keys) {
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadIfPresent(path, kMaxStateBytes));
  if (!text.has_value()) return std::optional<StateValues>();
  auto values = ParseStateValues(*text, keys);
  if (!values.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", values.status().message()));
  }
  return std::optional<StateValues>(*std::move(values));
}

// ModelCache's files; the version from `last` when its model is this one.
absl::StatusOr<ModelStatus> ReadModel(const std::string& dir,
                                      const absl::StatusOr<LastRound>& last) {
  ModelStatus model;
  COHORT_ASSIGN_OR_RETURN(
      std::optional<std::string> bytes,
      ReadIfPresent(ModelCache::ModelPath(dir), ModelCache::kMaxModelBytes));
  if (!bytes.has_value()) return model;
  model.sha256 = crypto::Sha256Hex(*bytes);
  COHORT_ASSIGN_OR_RETURN(
      std::optional<std::string> architecture,
      ReadIfPresent(ModelCache::ArchitecturePath(dir), 4096));
  model.architecture = architecture.value_or("");
  if (last.ok() && last->model_sha256 == model.sha256) {
    model.version = last->model_version;
  }
  return model;
}

// ReleaseGuard's counter file.
absl::StatusOr<int64_t> ReadHighestHeld(const std::string& dir) {
  const std::string path = ModelCache::ReleasePath(dir);
  COHORT_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          ReadIfPresent(path, 64));
  if (!text.has_value()) return 0;
  return ParseReleaseNumber(*text, path);
}

// Budgets' usage file, in the format budgets.h documents.
absl::StatusOr<BudgetStatus> ReadBudgets(const BudgetOptions& caps,
                                         const std::string& dir,
                                         absl::CivilDay today) {
  BudgetStatus budgets{caps, DailyUsage{today}};
  // The agent keeps no usage without a daily cap.
  if (!caps.has_daily_caps()) return budgets;
  const std::string path = dir + "/" + Budgets::kStateFile;
  COHORT_ASSIGN_OR_RETURN(std::optional<StateValues> saved,
                          PeekStateValues(path, BudgetStateKeys()));
  if (!saved.has_value()) return budgets;
  auto usage = UsageOfToday(*saved, today);
  if (!usage.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", usage.status().message()));
  }
  budgets.usage = *usage;
  return budgets;
}

// EligibilityPolicy's count file, in the format eligibility.h documents.
absl::StatusOr<int64_t> ReadExamplesAtLastRound(const std::string& dir) {
  const std::string key = EligibilityPolicy::kStateKey;
  COHORT_ASSIGN_OR_RETURN(
      std::optional<StateValues> saved,
      PeekStateValues(dir + "/" + EligibilityPolicy::kStateFile, {key}));
  return saved.has_value() ? saved->at(key) : 0;
}

absl::Status Refuse(absl::string_view rule, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("eligibility.", rule, ": ", why));
}

// EligibilityPolicy's examples rule, on the count read above (the policy
// itself would move a corrupt count file aside). Same message.
absl::Status NewExamplesRule(
    const AgentOptions& options,
    const std::function<absl::StatusOr<int64_t>()>& examples_added) {
  const int64_t wanted = options.eligibility.min_new_examples;
  if (wanted == 0) return absl::OkStatus();
  auto then = ReadExamplesAtLastRound(options.state_dir);
  if (!then.ok()) return Refuse("min_new_examples", then.status().message());
  auto added = examples_added
                  ? examples_added()
                  : absl::StatusOr<int64_t>(absl::UnimplementedError(
                        "no example count available"));
  if (!added.ok()) {
    return Refuse("min_new_examples",
                  absl::StrCat("cannot count the examples added: ",
                               added.status().message()));
  }
  return client::CheckNewExamples(wanted, *added, *then);
}

EligibilityStatus CheckEligibility(const AgentOptions& options,
                                   const absl::StatusOr<BudgetStatus>& budgets,
                                   StatusEnvironment environment,
                                   base::Clock* clock) {
  // The policy checks the device rules; with min_new_examples on it would
  // also load (and might move aside) its count file, so that rule is
  // checked here instead.
  EligibilityOptions device_rules = options.eligibility;
  device_rules.min_new_examples = 0;
  EligibilityPolicy policy(device_rules, std::move(environment.probes), clock,
                           environment.zone, options.state_dir);
  absl::Status answer = policy.CheckDevice(0);
  if (answer.ok()) {
    answer = NewExamplesRule(options, environment.examples_added);
  }
  // An unreadable usage file is shown as such under budgets.
  if (answer.ok() && budgets.ok()) {
    answer = CheckDailyCaps(budgets->caps, budgets->usage);
  }
  return EligibilityStatus{answer.ok(), std::string(answer.message())};
}

}  // namespace

AgentStatus ReadAgentStatus(const AgentOptions& options,
                            StatusEnvironment environment) {
  base::Clock* const clock = environment.clock != nullptr
                                 ? environment.clock
                                 : base::RealClock::Get();
  const std::string& dir = options.state_dir;
  AgentStatus status;
  status.device_id = options.device_id;
  status.state_dir = dir;
  status.last_round = ReadRecordedRound(dir);
  status.model = ReadModel(dir, status.last_round);
  status.release.highest_held = ReadHighestHeld(dir);
  status.release.root_pinned = options.trusted_root_path;
  status.budgets =
      ReadBudgets(options.budgets, dir,
                  absl::ToCivilDay(clock->Now(), environment.zone));
  status.eligibility = CheckEligibility(options, status.budgets,
                                        std::move(environment), clock);
  return status;
}

}  // namespace cohort::client
