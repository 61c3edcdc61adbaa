#include "tests/testing/prometheus_text.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cohort::testing {
namespace {

struct Sample {
  std::string name;
  SampleLabels labels;
  double value = 0;
};

// `k="v",k2="v2"` (the text between the braces), with \" \\ \n escapes.
std::optional<SampleLabels> ParseLabels(absl::string_view text) {
  SampleLabels labels;
  while (!text.empty()) {
    const size_t eq = text.find("=\"");
    if (eq == absl::string_view::npos) return std::nullopt;
    const std::string key(text.substr(0, eq));
    text.remove_prefix(eq + 2);
    std::string value;
    size_t i = 0;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
    }
    if (i == text.size()) return std::nullopt;
    text.remove_prefix(i + 1);
    absl::ConsumePrefix(&text, ",");
    labels[key] = std::move(value);
  }
  return labels;
}

// `name{labels} value [timestamp]` or `name value [timestamp]`.
std::optional<Sample> ParseSample(absl::string_view line) {
  Sample sample;
  const size_t brace = line.find('{');
  const size_t close = line.rfind('}');
  absl::string_view rest;
  if (brace != absl::string_view::npos && close != absl::string_view::npos &&
      close > brace) {
    sample.name = std::string(line.substr(0, brace));
    auto labels = ParseLabels(line.substr(brace + 1, close - brace - 1));
    if (!labels.has_value()) return std::nullopt;
    sample.labels = *std::move(labels);
    rest = line.substr(close + 1);
  } else {
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) return std::nullopt;
    sample.name = std::string(line.substr(0, space));
    rest = line.substr(space);
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(rest, ' ', absl::SkipEmpty());
  if (fields.empty() || !absl::SimpleAtod(fields[0], &sample.value)) {
    return std::nullopt;
  }
  return sample;
}

}  // namespace

std::optional<double> SampleValue(absl::string_view exposition,
                                  absl::string_view name,
                                  const SampleLabels& labels) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    std::optional<Sample> sample = ParseSample(line);
    if (sample.has_value() && sample->name == name &&
        sample->labels == labels) {
      return sample->value;
    }
  }
  return std::nullopt;
}

}  // namespace cohort::testing
