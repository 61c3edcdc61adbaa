#ifndef COHORT_COMMON_BASE_KILL_POINT_H_
#define COHORT_COMMON_BASE_KILL_POINT_H_

// Named points of a round and of the agent's cycle where the kill -9 matrix
// (tests/integration/kill_matrix_test.cc, docs/RELIABILITY.md) ends the
// process, so that each point is hit exactly rather than by a timed kill.
//
// The environment variable COHORT_KILL_AT arms one point for the life of
// the process: "<point>" kills the first time the process reaches it,
// "<point>#<n>" the n-th time (n >= 1). The process then sends itself
// SIGKILL: no destructor, flush or handler runs, as with `kill -9`.
// Unset (every production run), a point costs one load of a flag. A spec
// that does not parse is logged once and arms nothing.
//
// The points are listed where they are placed; their names are
// "<process>.<step>", e.g. "server.version_stored", "agent.trained".

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace cohort::base {

struct KillSpec {
  std::string point;
  int64_t hit = 1;  // the n-th arrival at `point` kills, from 1
};

// "<point>" or "<point>#<n>"; nullopt for an empty point or a count that is
// not a positive integer.
std::optional<KillSpec> ParseKillSpec(absl::string_view spec);

// True when COHORT_KILL_AT arms a point: lets a caller skip building a
// point's name.
bool KillPointArmed();

// Sends SIGKILL to this process if `point` is the armed point and this is
// its armed arrival. Thread-safe.
void KillPoint(absl::string_view point);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_KILL_POINT_H_
