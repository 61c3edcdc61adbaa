#ifndef COHORT_CLIENT_AGENT_AGENT_COUNTERS_H_
#define COHORT_CLIENT_AGENT_AGENT_COUNTERS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/transport/transport.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace cohort::client {

// Work the agent refused or gave up on its own side. A small, fixed set: each
// is a label value of cohort_agent_refusals_total, and each is counted at the
// one place in the agent that decides it.
enum class Refusal {
  kDeadline,       // "deadline": the report deadline passed before or
                   // during training; nothing is reported
  kModelRefused,   // "model_refused": the release guard refused the model's
                   // release (unsigned, replayed, expired, wrong task)
  kModelDownload,  // "model_download": the model could not be fetched,
                   // verified against its hash, or stored
  kSecAgg,         // "secagg": a secure round failed on the device's side
                   // of the stream (send, receive or protocol step)
  kServerRefused,  // "server_refused": the server refused the check-in
                   // itself (FAILED_PRECONDITION or INVALID_ARGUMENT)
  kIneligible,     // "ineligible": an eligibility rule failed (WorkGate),
                   // once per check-in skipped (every
                   // eligibility.recheck_interval_ms while it lasts), or
                   // once for a round abandoned in training
  kBudget,         // "budget": a budget cap was spent: once per check-in
                   // skipped, per model download refused, or per round
                   // that ran out of budgets.max_round_time_ms
};

// How one joined round ended, for cohort_agent_rounds_total.
enum class RoundResult {
  kAccepted,   // "accepted": the report was accepted, or the update summed
               // securely
  kNotUsed,    // "not_used": the server acknowledged with accepted=false
  kAbandoned,  // "abandoned": anything else (a Refusal, a failed report,
               // a trainer error, a stop request)
};

// The device agent's own Prometheus metrics, written by the agent loop to a
// text-format file (node_exporter's textfile collector reads it; the agent
// opens no port). No series carries a device label: one agent writes one
// file, and the scraper adds `instance`. Names follow the Prometheus
// conventions: counters end in _total, units are in the name.
//
//   cohort_agent_check_ins_total{result}      counter; check-ins by answer:
//       assigned (a task assignment), retry (a RetryWindow) or error (no
//       answer: the call failed, or the server refused the check-in).
//   cohort_agent_retries_total{cause}         counter; the RetryWindows
//       again, by RetryWindow.cause: not_selecting, round_full,
//       already_assigned, paused; unspecified when the server sent none
//       (coordinators before 0.5), other for a cause this build does not
//       know (so a newer server cannot grow the label set).
//   cohort_agent_rounds_joined_total          counter; assignments taken
//       (equal to check_ins_total{result="assigned"}).
//   cohort_agent_rounds_total{result}         counter; how each joined round
//       ended (RoundResult): accepted, not_used or abandoned. Once no round
//       is in progress, the three sum to rounds_joined_total.
//   cohort_agent_refusals_total{reason}       counter; work the agent
//       refused or gave up (Refusal): deadline, model_refused,
//       model_download, secagg, server_refused, ineligible, budget.
//   cohort_agent_training_seconds_total       counter; wall time spent in
//       local training (Trainer::Train), finished or not.
//   cohort_agent_bytes_total{direction}       counter; sent or received:
//       serialized sizes of the protobuf messages of the Participate stream
//       (check-in, report, SecAgg messages; the server's answers), plus the
//       model download bytes the transport streamed. Envelope framing,
//       HTTP/2 and TLS overhead are not counted.
//   cohort_agent_model_version                gauge; version of the model
//       the agent holds (0: none yet).
//   cohort_agent_last_round_timestamp_seconds gauge; Unix time of the last
//       accepted round; absent until this process has one.
//
// Every label value above starts at zero, so rate() sees the first
// increment. Counters start at zero with the process.
//
// Thread-safe: prometheus-cpp metrics are atomic, so the agent loop may
// count while another thread calls Text(). Not copyable or movable (it
// holds references into its registry).
class AgentCounters {
 public:
  AgentCounters();
  AgentCounters(const AgentCounters&) = delete;
  AgentCounters& operator=(const AgentCounters&) = delete;

  // A check-in answered with a task assignment: a round joined.
  void Assigned();
  // A check-in answered with a RetryWindow whose cause is `cause`.
  void Retry(absl::string_view cause);
  // A check-in without an answer (the call failed or was refused).
  void CheckInFailed();
  // A joined round ended; `now` stamps an accepted one.
  void RoundEnded(RoundResult result, absl::Time now);
  void Refused(Refusal reason);
  // Time spent in one Trainer::Train call.
  void Trained(absl::Duration elapsed);
  void Sent(int64_t bytes);
  void Received(int64_t bytes);
  void SetModelVersion(int64_t version);

  // The bytes counted so far (cohort_agent_bytes_total): what the daily
  // byte budgets are charged from.
  int64_t bytes_sent() const;
  int64_t bytes_received() const;

  // All series in the Prometheus text exposition format (version 0.0.4).
  std::string Text() const;

 private:
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& check_ins_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Counter& joined_;
  prometheus::Family<prometheus::Counter>& rounds_;
  prometheus::Family<prometheus::Counter>& refusals_;
  prometheus::Counter& training_seconds_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Counter& bytes_sent_;
  prometheus::Counter& bytes_received_;
  prometheus::Gauge& model_version_;
  prometheus::Family<prometheus::Gauge>& last_round_;
};

// Label values, shared with tests and docs.
const char* RefusalName(Refusal reason);
const char* RoundResultName(RoundResult result);
// RetryWindow.cause as a label value: a known cause, "unspecified" or
// "other".
std::string RetryCauseLabel(absl::string_view cause);

// Writes counters.Text() to `path` atomically (temp file, fsync, rename), mode
// 0644, so node_exporter never reads a torn file. INTERNAL on I/O errors.
absl::Status WriteTextfile(const AgentCounters& counters,
                           const std::string& path);

// `transport`, forwarding every call, with its traffic counted in
// `counters`' bytes: each session's messages as sent when handed to the
// session (ByteSizeLong, whatever the call returns) and as received when a
// call returns one; each model download as received, by the transport's own
// download_stats().bytes_received (which sees deltas and resumed downloads)
// when it counts, else by the size of the bytes returned. `counters` must
// outlive the returned transport and its sessions.
std::unique_ptr<CoordinatorTransport> CountTraffic(
    std::unique_ptr<CoordinatorTransport> transport, AgentCounters* counters);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_AGENT_COUNTERS_H_
