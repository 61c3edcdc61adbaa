#ifndef COHORT_SERVER_ROUND_DEVICE_SESSION_H_
#define COHORT_SERVER_ROUND_DEVICE_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"
#include "server/round/device_api_counters.h"
#include "server/round/leadership.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// Identities with a Participate conversation open, so that one identity on
// several live conversations (one certificate copied onto several devices)
// is reported: the engine serves each identity once a round, so copies wait
// forever while the round may never fill. Thread-safe.
class LiveDevices {
 public:
  // One more conversation of `device`; returns how many are live. Logs a
  // warning (at most once a minute per identity) when that is more than one.
  int Open(const std::string& device);
  void Close(const std::string& device);

 private:
  absl::Mutex mu_;
  std::map<std::string, int> live_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> warned_ ABSL_GUARDED_BY(mu_);
};

// The rules of one device conversation, free of any transport: check-in
// validation (the device id follows the stores' name rule, the population
// must be the engine's task), the assignment the device holds, and its drop
// when the conversation ends before the device's answer. The gRPC reactor
// and the simulator's in-process session are thin adapters over it, so the
// simulator applies production's check-in rules.
//
// Transitions: CheckIn once; then Report or SecAgg messages while assigned;
// End (also run by the destructor) at the end of the conversation.
// Thread-safe: transports call Answered() from engine threads.
class DeviceSession {
 public:
  // `cert_name` is the peer certificate's common name under mTLS (it wins
  // over CheckIn.device_id), else empty. `live` and `counters` may be null;
  // both are borrowed.
  // While `leadership` (may be null: always leading; borrowed) stands by,
  // every check-in gets its StandbyRetry and the engine is not touched.
  DeviceSession(RoundEngine* engine, LiveDevices* live, std::string cert_name,
                DeviceApiCounters* counters = nullptr,
                const Leadership* leadership = nullptr);
  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  // The engine's answer. INVALID_ARGUMENT for a device id outside the
  // stores' rule; FAILED_PRECONDITION for another population, or a second
  // check-in on this conversation; UNAVAILABLE while the coordinator's
  // store is away (RoundEngine::StoreStatus; the device backs off).
  absl::StatusOr<CheckInOutcome> CheckIn(const cohort::v1::CheckIn& check_in);

  // The engine's Ack for a plain round's report. FAILED_PRECONDITION without
  // an assignment; the engine's errors otherwise (the device is then
  // dropped from its round).
  absl::StatusOr<cohort::v1::Ack> Report(const cohort::v1::Report& report);

  // A SecAgg message of a secure round: the final Ack once the round is done
  // with this device, else nullopt (more messages arrive on `channel`).
  // Errors as Report.
  absl::StatusOr<std::optional<cohort::v1::Ack>> SecAgg(
      const cohort::v1::SecAggClientMessage& message,
      std::shared_ptr<DeviceChannel> channel);

  // The conversation's final answer (an Ack or RetryWindow) was queued: the
  // device no longer holds an unanswered assignment.
  void Answered();

  // The conversation ended. Drops the device from its round if it still
  // holds an unanswered assignment. Idempotent.
  void End();

  const std::string& device() const { return device_; }

 private:
  // Clears the assignment; true if there was one.
  bool TakeAssignment();
  absl::StatusOr<CheckInOutcome> CheckInUncounted(
      const cohort::v1::CheckIn& check_in);
  // Counts a refused report or SecAgg message (`kind`) with `status`'s
  // reason, or an Ack the round did not take.
  void CountRejection(absl::string_view kind, const absl::Status& status,
                      const cohort::v1::Ack* ack);

  RoundEngine* const engine_;
  LiveDevices* const live_;
  const std::string cert_name_;
  DeviceApiCounters* const counters_;
  const Leadership* const leadership_;
  // Set once by CheckIn, before any other thread can see the session.
  std::string device_;
  int64_t round_id_ = 0;
  bool registered_ = false;

  absl::Mutex mu_;
  bool assigned_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_DEVICE_SESSION_H_
