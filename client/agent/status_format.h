#ifndef COHORT_CLIENT_AGENT_STATUS_FORMAT_H_
#define COHORT_CLIENT_AGENT_STATUS_FORMAT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "client/agent/agent_status.h"

namespace cohort::client {

// `cohort-agent status` output: one "key: value" line per part, keys
// right-aligned as in `systemctl status`:
//
//     device_id: dev-1
//   eligibility: not eligible: eligibility.require_ac_power: on battery
//    last_round: round 42 accepted at 2024-05-31T10:00:00Z, model version 7
//
// or, with `json`, one JSON object on one line, with every key always
// present: null for what is not there (no model, no cap, no round yet),
// and {"unreadable": "<why>"} in place of a part (or release.highest_held)
// that could not be read. Times are RFC 3339 in UTC. Both end in a
// newline.
std::string FormatAgentStatus(const AgentStatus& status, bool json);

// `text` as a JSON string literal, quotes included: '"', '\' and control
// characters escaped, and bytes that are not UTF-8 replaced by U+FFFD, so
// the result is valid JSON whatever a file or config held.
std::string JsonString(absl::string_view text);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_STATUS_FORMAT_H_
