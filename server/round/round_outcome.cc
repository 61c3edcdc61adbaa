#include "server/round/round_outcome.h"

#include "absl/strings/str_cat.h"

namespace cohort::server {
namespace {

std::string DropsText(const DropCounts& d) {
  return absl::StrCat("dropped: ", d.timeout, " timed out, ", d.disconnect,
                      " disconnected, ", d.malformed,
                      " reports refused as malformed, ", d.secagg,
                      " lost in SecAgg+");
}

std::string Headline(const AbandonReason& r) {
  switch (r.cause) {
    case AbandonCause::kTooFewReports:
      return absl::StrCat("too few reports in ", r.phase, ": ", r.survivors,
                          " of ", r.cohort,
                          " assigned devices reported, min_reports ",
                          r.threshold);
    case AbandonCause::kQuorumUnreachable:
      return absl::StrCat("quorum unreachable in ", r.phase, ": ", r.survivors,
                          " reports and too few of ", r.cohort,
                          " assigned devices still working for min_reports ",
                          r.threshold);
    case AbandonCause::kSecAggNotStarted:
      return absl::StrCat("SecAgg+ could not start for a cohort of ",
                          r.cohort);
    case AbandonCause::kSecAggAborted:
      return absl::StrCat("SecAgg+ aborted in phase ", r.phase, ": ",
                          r.survivors, " of ", r.cohort,
                          " clients left, threshold t=", r.threshold);
    case AbandonCause::kSumUndecodable:
      return absl::StrCat("the secure sum of ", r.survivors, " of ", r.cohort,
                          " clients did not decode");
    case AbandonCause::kCommitFailed:
      return absl::StrCat("the commit of ", r.survivors, " updates failed");
  }
  return "abandoned";
}

}  // namespace

const char* AbandonCauseName(AbandonCause cause) {
  switch (cause) {
    case AbandonCause::kTooFewReports:
      return "too_few_reports";
    case AbandonCause::kQuorumUnreachable:
      return "quorum_unreachable";
    case AbandonCause::kSecAggNotStarted:
      return "secagg_not_started";
    case AbandonCause::kSecAggAborted:
      return "secagg_aborted";
    case AbandonCause::kSumUndecodable:
      return "sum_undecodable";
    case AbandonCause::kCommitFailed:
      return "commit_failed";
  }
  return "unknown";
}

std::string AbandonReason::ToString() const {
  std::string out = absl::StrCat(Headline(*this), "; ", DropsText(drops));
  if (!detail.empty()) absl::StrAppend(&out, " (", detail, ")");
  return out;
}

}  // namespace cohort::server
