#ifndef COHORT_CLIENT_AGENT_LAST_ROUND_H_
#define COHORT_CLIENT_AGENT_LAST_ROUND_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/agent/agent_counters.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::client {

// How the agent's last joined round ended, kept in <state_dir>/last_round.
// The agent writes it after every round it joins (RecordLastRound);
// `cohort-agent status` reads it. The file is a few "name value" lines,
// the value running to the end of the line; '#' starts a comment, and
// names this build does not know are skipped (a newer agent may add some):
//
//   # cohort-agent: the last round joined
//   round 42
//   result abandoned
//   at_unix 1717149600
//   model_version 7
//   model_sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//   reason ABORTED: round 42: the report deadline ... passed; not reporting
//
// round, result, at_unix and model_version are required; model_sha256 and
// reason are written only when set.
struct LastRound {
  int64_t round = 0;
  // RoundResultName in the file: accepted, not_used or abandoned.
  RoundResult result = RoundResult::kAbandoned;
  // Why an abandoned round was given up: its status ("ABORTED: ..."), on
  // one line. Empty for a round that was reported.
  std::string reason;
  // When the round ended; whole seconds in the file.
  absl::Time at = absl::UnixEpoch();
  // The model the round was assigned: its version and hex SHA-256 (the
  // ModelRef's; empty when the assignment named none).
  int64_t model_version = 0;
  std::string model_sha256;
};

inline constexpr char kLastRoundFile[] = "last_round";

// <state_dir>/last_round.
std::string LastRoundPath(const std::string& state_dir);

// The file's text. Line breaks and other control characters in reason and
// model_sha256 become spaces, and a reason is cut at 1000 bytes, so what
// is written always parses back.
std::string FormatLastRound(const LastRound& last);

// DATA_LOSS naming the line or field when `text` is not such a file: a
// required name missing, a name twice, a number that is not an integer,
// an unknown result.
absl::StatusOr<LastRound> ParseLastRound(absl::string_view text);

// Writes `last` atomically (base::WriteFileAtomically), creating
// `state_dir` if needed. INTERNAL on I/O errors.
absl::Status WriteLastRound(const std::string& state_dir,
                            const LastRound& last);

// The last round recorded in `state_dir`. NOT_FOUND when none is;
// DATA_LOSS (naming the path) when the file does not parse; the errors of
// base::ReadFile otherwise. Reads only.
absl::StatusOr<LastRound> ReadLastRound(const std::string& state_dir);

// What the agent loop calls when a joined round ends: records the round of
// `assignment` as ended now with `result`; `outcome` (the round's status)
// is the reason of an abandoned one. A failed write is logged, never
// returned: `cohort-agent status` then shows an older round.
void RecordLastRound(const std::string& state_dir,
                     const cohort::v1::TaskAssignment& assignment,
                     RoundResult result, const absl::Status& outcome);

// `text` on one line for a terminal or a "name value" file: control
// characters (newlines, escape sequences) become spaces, the ends trimmed.
std::string OneLine(absl::string_view text);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_LAST_ROUND_H_
