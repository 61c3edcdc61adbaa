#include "server/round/round_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::server {

void AppendFixed(std::string* out, double v, int precision) {
  if (std::isnan(v)) {
    out->append("nan");  // No sign: -nan and nan must not differ.
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "inf" : "-inf");
    return;
  }
  // Largest finite double in fixed notation: 309 digits, sign, point, digits.
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v,
                                 std::chars_format::fixed, precision);
  CHECK(ec == std::errc()) << "to_chars failed for " << v;
  const char* begin = buf;
  // -0.0 and tiny negatives would print "-0.000"; equal-looking values
  // should be equal bytes.
  if (*begin == '-' && std::all_of(begin + 1, static_cast<const char*>(end),
                                   [](char c) { return c == '0' || c == '.'; })) {
    ++begin;
  }
  out->append(begin, static_cast<const char*>(end));
}

std::string FormatRoundOutcome(const RoundOutcome& o) {
  std::string out;
  absl::StrAppend(&out, o.drops.timeout, ",", o.drops.disconnect, ",",
                  o.drops.malformed, ",", o.drops.secagg, ",");
  AppendFixed(&out, o.clip_norm, 6);
  out += ',';
  AppendFixed(&out, o.clipped_fraction, 6);
  out += ',';
  AppendFixed(&out, o.epsilon, 6);
  absl::StrAppend(&out, ",", o.abandoned_rounds, ",");
  AppendFixed(&out, o.field_accuracy, 6);
  absl::StrAppend(&out, ",", o.field_reports, ",");
  AppendFixed(&out, o.field_feature_drift, 6);
  out += ',';
  AppendFixed(&out, o.field_prediction_drift, 6);
  absl::StrAppend(&out, ",", o.release);
  return out;
}

}  // namespace cohort::server
