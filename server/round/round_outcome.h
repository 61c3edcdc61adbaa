#ifndef COHORT_SERVER_ROUND_ROUND_OUTCOME_H_
#define COHORT_SERVER_ROUND_ROUND_OUTCOME_H_

#include <cstdint>
#include <string>

#include "server/round/round_metrics.h"

namespace cohort::server {

// Why a round ended without a new version.
enum class AbandonCause {
  // The report deadline passed, or no assigned device was left working,
  // with fewer than min_reports updates.
  kTooFewReports,
  // Reports plus devices still working fell below min_reports: the round
  // stopped early instead of waiting for its deadline.
  kQuorumUnreachable,
  // SecAgg+ refused the cohort before its first message.
  kSecAggNotStarted,
  // SecAgg+ aborted: a phase kept fewer clients than its threshold, or a
  // secret got fewer than t shares (or inconsistent ones) in Unmasking.
  kSecAggAborted,
  // The secure sum did not decode.
  kSumUndecodable,
  // Aggregating, evaluating or storing the new version failed.
  kCommitFailed,
};

const char* AbandonCauseName(AbandonCause cause);

// The typed reason of one abandoned round. The engine logs it, acks waiting
// devices with it and hands it to its observer (RoundSummary::abandoned), so
// that metrics and the simulator's error need not parse log text.
struct AbandonReason {
  AbandonCause cause = AbandonCause::kTooFewReports;
  // The round phase that gave up ("reporting", "committing") or, for the
  // SecAgg causes, the SecAgg+ phase ("AdvertiseKeys", "ShareKeys",
  // "MaskedInputCollection", "Unmasking").
  std::string phase;
  // What the phase needed and what it had: min_reports and the updates
  // received, or SecAgg+'s threshold t and the clients left in the phase
  // (in Unmasking, the shares that arrived for the worst-off secret).
  int64_t threshold = 0;
  int64_t survivors = 0;
  // Devices assigned to the round, or the SecAgg+ cohort size n.
  int64_t cohort = 0;
  DropCounts drops;
  // The underlying status message, if any.
  std::string detail;

  // One line naming the cause, phase, threshold and counts, e.g.
  // "SecAgg+ aborted in phase ShareKeys: 4 of 10 clients left, threshold
  // t=6; dropped: ...".
  std::string ToString() const;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_OUTCOME_H_
