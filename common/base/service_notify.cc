#include "common/base/service_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "glog/logging.h"

namespace cohort::base {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  // sd_watchdog_enabled also checks WATCHDOG_PID, so a child that inherited
  // the variables does not think it is watched.
  if (enabled_ && sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    watchdog_ = absl::Microseconds(static_cast<int64_t>(usec));
  }
}

absl::Status SystemdNotifier::Notify(const std::string& assignments) {
  if (!enabled_) return absl::OkStatus();
  const int r = sd_notify(/*unset_environment=*/0, assignments.c_str());
  if (r < 0) {
    return absl::UnavailableError(
        absl::StrCat("sd_notify to $NOTIFY_SOCKET: ", std::strerror(-r)));
  }
  return absl::OkStatus();
}

namespace {

std::string StatusLine(absl::string_view status) {
  return absl::StrCat("STATUS=",
                      absl::StrReplaceAll(status, {{"\n", " "}, {"\r", " "}}));
}

void Send(ServiceNotifier& notifier, const std::string& message) {
  if (absl::Status s = notifier.Notify(message); !s.ok()) {
    LOG(WARNING) << "service manager: " << s;
  }
}

}  // namespace

std::string ReadyMessage(absl::string_view status) {
  return absl::StrCat("READY=1\n", StatusLine(status));
}

std::string StatusMessage(absl::string_view status) {
  return StatusLine(status);
}

std::string StoppingMessage(absl::string_view status) {
  return absl::StrCat("STOPPING=1\n", StatusLine(status));
}

std::string WatchdogMessage(absl::string_view status) {
  return absl::StrCat("WATCHDOG=1\n", StatusLine(status));
}

void NotifyReady(ServiceNotifier& notifier, absl::string_view status) {
  Send(notifier, ReadyMessage(status));
}

void NotifyStopping(ServiceNotifier& notifier, absl::string_view status) {
  Send(notifier, StoppingMessage(status));
}

}  // namespace cohort::base
