#include "client/agent/status_format.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "client/agent/last_round.h"

namespace cohort::client {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Unreadable(const absl::Status& s) {
  return absl::StrCat("unreadable (", s.message(), ")");
}

std::string Cap(int64_t cap) {
  return cap > 0 ? absl::StrCat(cap) : std::string("unlimited");
}

std::string ModelText(const absl::StatusOr<ModelStatus>& model) {
  if (!model.ok()) return Unreadable(model.status());
  if (model->sha256.empty()) return "none";
  return absl::StrCat(
      "version ",
      model->version.has_value() ? absl::StrCat(*model->version) : "unknown",
      ", architecture ",
      model->architecture.empty() ? "unknown" : OneLine(model->architecture),
      ", sha256 ", model->sha256);
}

std::string ReleaseText(const ReleaseStatus& release) {
  std::string held = "none";
  if (!release.highest_held.ok()) {
    held = Unreadable(release.highest_held.status());
  } else if (*release.highest_held > 0) {
    held = absl::StrCat(*release.highest_held);
  }
  return absl::StrCat(
      "highest held ", held, ", root pinned ",
      release.root_pinned.empty() ? "none" : release.root_pinned);
}

std::string BudgetText(const absl::StatusOr<BudgetStatus>& budgets) {
  if (!budgets.ok()) return Unreadable(budgets.status());
  const BudgetOptions& caps = budgets->caps;
  if (!caps.has_daily_caps()) return "no daily caps (usage is not kept)";
  const DailyUsage& u = budgets->usage;
  return absl::StrCat(absl::FormatCivilTime(u.day), ": rounds ", u.rounds,
                      "/", Cap(caps.max_rounds_per_day), ", bytes sent ",
                      u.uploaded_bytes, "/", Cap(caps.max_upload_bytes_per_day),
                      ", bytes received ", u.downloaded_bytes, "/",
                      Cap(caps.max_download_bytes_per_day));
}

std::string LastRoundText(const absl::StatusOr<LastRound>& last) {
  if (absl::IsNotFound(last.status())) return "none";
  if (!last.ok()) return Unreadable(last.status());
  std::string out = absl::StrCat(
      "round ", last->round, " ", RoundResultName(last->result), " at ",
      Rfc3339(last->at), ", model version ", last->model_version);
  if (!last->reason.empty()) absl::StrAppend(&out, ", reason: ", last->reason);
  return out;
}

std::string FormatText(const AgentStatus& s) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"device_id", s.device_id},
      {"state_dir", s.state_dir},
      {"model", ModelText(s.model)},
      {"release", ReleaseText(s.release)},
      {"eligibility", s.eligibility.eligible
                          ? std::string("eligible")
                          : "not eligible: " + s.eligibility.reason},
      {"budgets", BudgetText(s.budgets)},
      {"last_round", LastRoundText(s.last_round)}};
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string out;
  for (const auto& row : rows) {
    absl::StrAppend(&out, std::string(width - row.first.size(), ' '),
                    row.first, ": ", row.second, "\n");
  }
  return out;
}

// A string, or null when it is empty.
std::string JsonText(absl::string_view text) {
  return text.empty() ? std::string("null") : JsonString(text);
}

// A count, or null when it is not positive (no cap, nothing held).
std::string JsonPositive(int64_t n) {
  return n > 0 ? absl::StrCat(n) : std::string("null");
}

std::string JsonUnreadable(const absl::Status& s) {
  return absl::StrCat("{\"unreadable\": ", JsonString(s.message()), "}");
}

std::string ModelJson(const absl::StatusOr<ModelStatus>& model) {
  if (!model.ok()) return JsonUnreadable(model.status());
  return absl::StrCat(
      "{\"version\": ",
      model->version.has_value() ? absl::StrCat(*model->version) : "null",
      ", \"architecture\": ", JsonText(model->architecture),
      ", \"sha256\": ", JsonText(model->sha256), "}");
}

std::string ReleaseJson(const ReleaseStatus& release) {
  return absl::StrCat(
      "{\"highest_held\": ",
      release.highest_held.ok() ? JsonPositive(*release.highest_held)
                                : JsonUnreadable(release.highest_held.status()),
      ", \"root_pinned\": ", JsonText(release.root_pinned), "}");
}

std::string BudgetJson(const absl::StatusOr<BudgetStatus>& budgets) {
  if (!budgets.ok()) return JsonUnreadable(budgets.status());
  const BudgetOptions& caps = budgets->caps;
  const DailyUsage& u = budgets->usage;
  const bool kept = caps.has_daily_caps();
  auto used = [kept](int64_t n) {
    return kept ? absl::StrCat(n) : std::string("null");
  };
  return absl::StrCat(
      "{\"daily_caps\": ", kept ? "true" : "false",
      ", \"day\": ", JsonString(absl::FormatCivilTime(u.day)),
      ", \"rounds_used\": ", used(u.rounds),
      ", \"rounds_max\": ", JsonPositive(caps.max_rounds_per_day),
      ", \"bytes_sent\": ", used(u.uploaded_bytes),
      ", \"bytes_sent_max\": ", JsonPositive(caps.max_upload_bytes_per_day),
      ", \"bytes_received\": ", used(u.downloaded_bytes),
      ", \"bytes_received_max\": ",
      JsonPositive(caps.max_download_bytes_per_day), "}");
}

std::string LastRoundJson(const absl::StatusOr<LastRound>& last) {
  if (absl::IsNotFound(last.status())) return "null";
  if (!last.ok()) return JsonUnreadable(last.status());
  return absl::StrCat(
      "{\"round\": ", last->round,
      ", \"result\": ", JsonString(RoundResultName(last->result)),
      ", \"reason\": ", JsonText(last->reason),
      ", \"at\": ", JsonString(Rfc3339(last->at)),
      ", \"model_version\": ", last->model_version, "}");
}

std::string FormatJson(const AgentStatus& s) {
  return absl::StrCat(
      "{\"device_id\": ", JsonString(s.device_id),
      ", \"state_dir\": ", JsonString(s.state_dir),
      ", \"model\": ", ModelJson(s.model),
      ", \"release\": ", ReleaseJson(s.release),
      ", \"eligibility\": {\"eligible\": ",
      s.eligibility.eligible ? "true" : "false",
      ", \"reason\": ", JsonText(s.eligibility.reason), "}",
      ", \"budgets\": ", BudgetJson(s.budgets),
      ", \"last_round\": ", LastRoundJson(s.last_round), "}\n");
}

// The length of the well-formed UTF-8 sequence at s[i] (a byte >= 0x80),
// or 0: a stray or missing continuation byte, an overlong form, a
// surrogate, or a code point above U+10FFFF.
size_t Utf8Length(absl::string_view s, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  if ((lead & 0xE0) == 0xC0) {
    n = 2;
  } else if ((lead & 0xF0) == 0xE0) {
    n = 3;
  } else if ((lead & 0xF8) == 0xF0) {
    n = 4;
  } else {
    return 0;
  }
  // The lead byte's payload bits: 5, 4 or 3.
  uint32_t code = lead & (0x7F >> n);
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    code = (code << 6) | (c & 0x3F);
  }
  constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kSmallest[n] || code > 0x10FFFF ||
      (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string FormatAgentStatus(const AgentStatus& status, bool json) {
  return json ? FormatJson(status) : FormatText(status);
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = Utf8Length(text, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.data() + i, n);
        i += n;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return out;
}

}  // namespace cohort::client
