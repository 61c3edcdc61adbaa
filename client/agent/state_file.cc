#include "client/agent/state_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

// A state file is a few short lines; anything larger is not one.
constexpr int64_t kMaxStateFileBytes = 4096;

absl::Status BadLine(int number, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("line ", number, ": ", why));
}

}  // namespace

absl::StatusOr<StateValues> ParseStateValues(
    absl::string_view text, const std::vector<std::string>& keys) {
  const std::set<std::string> known(keys.begin(), keys.end());
  StateValues values;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> words =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() != 2) return BadLine(number, "not \"name value\"");
    if (!known.contains(words[0])) {
      return BadLine(number, absl::StrCat("unknown name \"", words[0], "\""));
    }
    int64_t value = 0;
    if (!absl::SimpleAtoi(words[1], &value) || value < 0) {
      return BadLine(number, absl::StrCat(words[0], " is not a count"));
    }
    if (!values.emplace(words[0], value).second) {
      return BadLine(number, absl::StrCat(words[0], " twice"));
    }
  }
  for (const std::string& key : keys) {
    if (!values.contains(key)) {
      return absl::DataLossError(absl::StrCat("no ", key, " line"));
    }
  }
  return values;
}

std::string FormatStateValues(const StateValues& values,
                              absl::string_view header) {
  std::string out = absl::StrCat("# ", header, "\n");
  for (const auto& [key, value] : values) {
    absl::StrAppend(&out, key, " ", value, "\n");
  }
  return out;
}

void QuarantineStateFile(const std::string& path, absl::string_view what,
                         absl::string_view why) {
  const std::string aside = path + ".corrupt";
  if (std::rename(path.c_str(), aside.c_str()) != 0) {
    LOG(WARNING) << what << ": " << path << " is unusable (" << why
                 << ") and could not be moved aside (" << std::strerror(errno)
                 << "); starting from zero";
    return;
  }
  LOG(WARNING) << what << ": " << path << " is unusable (" << why
               << "); moved to " << aside << ", starting from zero";
}

std::optional<StateValues> LoadStateValues(const std::string& path,
                                           const std::vector<std::string>& keys,
                                           absl::string_view what) {
  auto text = base::ReadFile(path, kMaxStateFileBytes);
  if (text.status().code() == absl::StatusCode::kNotFound) return std::nullopt;
  if (!text.ok()) {
    QuarantineStateFile(path, what, text.status().ToString());
    return std::nullopt;
  }
  auto values = ParseStateValues(*text, keys);
  if (!values.ok()) {
    QuarantineStateFile(path, what, values.status().message());
    return std::nullopt;
  }
  return *std::move(values);
}

absl::Status SaveStateValues(const std::string& path, const StateValues& values,
                             absl::string_view header) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) COHORT_RETURN_IF_ERROR(base::MakeDirs(dir));
  return base::WriteFileAtomically(path, FormatStateValues(values, header),
                                   0600);
}

}  // namespace cohort::client
