#include "client/agent/last_round.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr char kRound[] = "round";
constexpr char kResult[] = "result";
constexpr char kAt[] = "at_unix";
constexpr char kModelVersion[] = "model_version";
constexpr char kModelSha256[] = "model_sha256";
constexpr char kReason[] = "reason";
// A reason is cut here, so that the whole file stays far below what
// ReadLastRound reads.
constexpr size_t kMaxReasonBytes = 1000;
constexpr int64_t kMaxLastRoundBytes = 4096;

// A SHA-256 as the coordinator sends it, or "" for anything else: the
// value comes from the network and the file has a size limit.
std::string Sha256OrEmpty(absl::string_view text) {
  if (text.size() != 64) return "";
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return "";
  }
  return std::string(text);
}

// The "name value" lines of a last_round file.
absl::StatusOr<std::map<std::string, std::string>> Fields(
    absl::string_view text) {
  std::map<std::string, std::string> fields;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    const std::string name(line.substr(0, space));
    const absl::string_view value =
        space == absl::string_view::npos
            ? absl::string_view()
            : absl::StripLeadingAsciiWhitespace(line.substr(space + 1));
    if (!fields.emplace(name, std::string(value)).second) {
      return absl::DataLossError(
          absl::StrCat("line ", number, ": ", name, " twice"));
    }
  }
  return fields;
}

absl::StatusOr<int64_t> Integer(
    const std::map<std::string, std::string>& fields, const char* name) {
  const auto it = fields.find(name);
  if (it == fields.end()) {
    return absl::DataLossError(absl::StrCat("no ", name, " line"));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value)) {
    return absl::DataLossError(
        absl::StrCat(name, " \"", it->second, "\" is not an integer"));
  }
  return value;
}

std::optional<RoundResult> ResultNamed(absl::string_view name) {
  for (RoundResult r : {RoundResult::kAccepted, RoundResult::kNotUsed,
                        RoundResult::kAbandoned}) {
    if (name == RoundResultName(r)) return r;
  }
  return std::nullopt;
}

}  // namespace

std::string LastRoundPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/", kLastRoundFile);
}

std::string OneLine(absl::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return std::string(absl::StripAsciiWhitespace(line));
}

std::string FormatLastRound(const LastRound& last) {
  std::string out = absl::StrCat(
      "# cohort-agent: the last round joined\n", kRound, " ", last.round,
      "\n", kResult, " ", RoundResultName(last.result), "\n", kAt, " ",
      absl::ToUnixSeconds(last.at), "\n", kModelVersion, " ",
      last.model_version, "\n");
  const std::string sha256 = Sha256OrEmpty(last.model_sha256);
  if (!sha256.empty()) absl::StrAppend(&out, kModelSha256, " ", sha256, "\n");
  const std::string reason =
      OneLine(absl::string_view(last.reason).substr(0, kMaxReasonBytes));
  if (!reason.empty()) absl::StrAppend(&out, kReason, " ", reason, "\n");
  return out;
}

absl::StatusOr<LastRound> ParseLastRound(absl::string_view text) {
  COHORT_ASSIGN_OR_RETURN(auto fields, Fields(text));
  LastRound last;
  COHORT_ASSIGN_OR_RETURN(last.round, Integer(fields, kRound));
  COHORT_ASSIGN_OR_RETURN(const int64_t at, Integer(fields, kAt));
  COHORT_ASSIGN_OR_RETURN(last.model_version, Integer(fields, kModelVersion));
  const auto result = fields.find(kResult);
  if (result == fields.end()) return absl::DataLossError("no result line");
  const std::optional<RoundResult> named = ResultNamed(result->second);
  if (!named.has_value()) {
    return absl::DataLossError(absl::StrCat(
        "result \"", result->second,
        "\" is none of accepted, not_used, abandoned"));
  }
  last.result = *named;
  last.at = absl::FromUnixSeconds(at);
  if (auto it = fields.find(kModelSha256); it != fields.end()) {
    last.model_sha256 = it->second;
  }
  if (auto it = fields.find(kReason); it != fields.end()) {
    last.reason = it->second;
  }
  return last;
}

absl::Status WriteLastRound(const std::string& state_dir,
                            const LastRound& last) {
  COHORT_RETURN_IF_ERROR(base::MakeDirs(state_dir));
  return base::WriteFileAtomically(LastRoundPath(state_dir),
                                   FormatLastRound(last));
}

absl::StatusOr<LastRound> ReadLastRound(const std::string& state_dir) {
  const std::string path = LastRoundPath(state_dir);
  COHORT_ASSIGN_OR_RETURN(std::string text,
                          base::ReadFile(path, kMaxLastRoundBytes));
  auto last = ParseLastRound(text);
  if (!last.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", last.status().message()));
  }
  return last;
}

void RecordLastRound(const std::string& state_dir,
                     const cohort::v1::TaskAssignment& assignment,
                     RoundResult result, const absl::Status& outcome) {
  LastRound last;
  last.round = assignment.round_id();
  last.result = result;
  if (result == RoundResult::kAbandoned && !outcome.ok()) {
    last.reason = absl::StrCat(absl::StatusCodeToString(outcome.code()), ": ",
                               outcome.message());
  }
  last.at = absl::Now();
  last.model_version = assignment.model().version();
  last.model_sha256 = assignment.model().sha256();
  if (absl::Status written = WriteLastRound(state_dir, last); !written.ok()) {
    // Rounds are minutes apart: a warning each is not a flood.
    LOG(WARNING) << "cannot record round " << last.round << " in "
                 << LastRoundPath(state_dir) << ": " << written
                 << "; cohort-agent status shows an older round";
  }
}

}  // namespace cohort::client
