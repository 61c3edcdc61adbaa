#ifndef COHORT_COMMON_BASE_SERVICE_NOTIFY_H_
#define COHORT_COMMON_BASE_SERVICE_NOTIFY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort::base {

// The service manager (systemd, for a Type=notify unit) as the daemons see
// it: readiness, a status line, watchdog pings and the start of a stop, each
// sent as newline-separated sd_notify(3) assignments ("READY=1\nSTATUS=...").
// Injected into the binaries' start-up code; tests use a fake that records
// the messages. Implementations are thread-safe (a monitor thread pings while
// the main thread reports).
class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;

  // Whether a service manager listens. When false, Notify does nothing and
  // callers need not start threads for it.
  virtual bool enabled() const = 0;
  // Sends `assignments` as one message. OK once sent, and OK without a
  // service manager (nothing to do). UNAVAILABLE when the manager's socket
  // refused the message; callers log it and go on, since a missed status
  // line must not stop a coordinator.
  virtual absl::Status Notify(const std::string& assignments) = 0;
  // How long the manager waits for a watchdog ping before it declares the
  // process hung (WatchdogSec=, passed as WATCHDOG_USEC for this PID), or
  // zero when its watchdog is off for this process.
  virtual absl::Duration WatchdogTimeout() const = 0;
};

// The real ServiceNotifier: libsystemd's sd_notify and sd_watchdog_enabled,
// which read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. Without
// NOTIFY_SOCKET (not started by systemd as Type=notify) it is disabled and
// every call is a no-op. It reads the environment at construction and never
// changes it, so child processes see the same variables. Stateless apart from
// that; thread-safe.
class SystemdNotifier final : public ServiceNotifier {
 public:
  SystemdNotifier();
  bool enabled() const override { return enabled_; }
  absl::Status Notify(const std::string& assignments) override;
  absl::Duration WatchdogTimeout() const override { return watchdog_; }

 private:
  bool enabled_ = false;
  absl::Duration watchdog_ = absl::ZeroDuration();
};

// The messages, one sd_notify datagram each. `status` is one line for
// `systemctl status`; newlines in it become spaces, since a newline would
// start another assignment.
std::string ReadyMessage(absl::string_view status);     // READY=1, STATUS=
std::string StatusMessage(absl::string_view status);    // STATUS=
std::string StoppingMessage(absl::string_view status);  // STOPPING=1, STATUS=
std::string WatchdogMessage(absl::string_view status);  // WATCHDOG=1, STATUS=

// Sends ReadyMessage / StoppingMessage through `notifier`, logging (not
// returning) a failure: neither may change how the process runs or exits.
void NotifyReady(ServiceNotifier& notifier, absl::string_view status);
void NotifyStopping(ServiceNotifier& notifier, absl::string_view status);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_SERVICE_NOTIFY_H_
