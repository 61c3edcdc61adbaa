#ifndef COHORT_SERVER_API_COORDINATION_H_
#define COHORT_SERVER_API_COORDINATION_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/base/service_notify.h"
#include "grpcpp/grpcpp.h"
#include "server/api/lease_keeper.h"
#include "server/api/server_options.h"
#include "server/round/leadership.h"
#include "server/round/round_engine.h"
#include "server/store/lease_fenced_store.h"
#include "server/store/lease_table.h"
#include "server/store/store.h"

namespace cohort::server {

// One coordinator's part in leading a task that several share
// (CoordinationOptions; DECISIONS.md, "Several coordinators"). Empty when
// the coordinator is alone.
struct Coordination {
  std::unique_ptr<LeaseTable> leases;
  LeaseFencedStore* fenced = nullptr;  // inside the store the task writes
  std::unique_ptr<LeaseKeeper> keeper;
  bool enabled() const { return keeper != nullptr; }
};

// With coordination enabled: connects the lease table (PostgresLeases, its
// own connection, statement timeout ttl/3 and call timeout ttl/2 so that a
// slow database cannot stall a renewal past the lease) and wraps `store` in
// a LeaseFencedStore that refuses writes until the coordinator leads.
// Without it, `store` comes back as it was and `out` stays empty.
absl::StatusOr<std::unique_ptr<Store>> OpenCoordination(
    const ServerOptions& options, std::unique_ptr<Store> store,
    Coordination* out);

// Stands by until this coordinator is granted the lease: check-ins get
// `leadership`'s StandbyRetry, the device server's health service
// "cohort.v1.Coordinator" is NOT_SERVING, and the service manager hears
// READY=1 and watchdog pings with a "standing by" status. Then fences the
// store's writes with the lease's epoch, has the keeper renew the lease
// (if it is lost: deposing the store, standing `leadership` and the health
// service by, and notifying `engine_stop`; also notifying it when `stop`
// is),  starts `engine` (which resumes from the last
// committed version and release) and leads. False if `stop` came
// first; errors of RoundEngine::Start. `leadership` and `devices` must
// outlive the keeper's thread (LeaseKeeper::Finish).
absl::StatusOr<bool> LeadWhenGranted(Coordination& coordination,
                                     absl::Notification* stop,
                                     absl::Notification* engine_stop,
                                     RoundEngine& engine,
                                     Leadership& leadership,
                                     grpc::Server& devices,
                                     base::ServiceNotifier& notifier);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_COORDINATION_H_
