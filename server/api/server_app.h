#ifndef COHORT_SERVER_API_SERVER_APP_H_
#define COHORT_SERVER_API_SERVER_APP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "cohort/v1/config.pb.h"
#include "common/base/service_notify.h"
#include "server/api/server_options.h"
#include "server/store/store.h"

namespace cohort::server {

// Opens the resolved store backend. For PostgreSQL this connects and runs
// migrations; an unreachable database is UNAVAILABLE naming the problem.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreOptions& options);

// Runs the coordinator described by `config` until `stop` is notified or
// round.max_rounds rounds have committed. Raises the descriptor limit and
// resolves the config (ResolveServerOptions: INVALID_ARGUMENT naming the
// field) before anything else; then opens the store, loads the holdout set,
// starts the round engine and serves the device API over TLS. Nothing after
// resolution reads `config`. Returns the first start-up error (bad config,
// store, TLS, port in use). Tells `notifier` READY=1 once serving, status
// and watchdog pings while the engine runs (EngineHealth), and STOPPING=1
// when it stops.
absl::Status RunServer(const cohort::v1::ServerConfig& config,
                       absl::Notification* stop,
                       base::ServiceNotifier* notifier);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_SERVER_APP_H_
