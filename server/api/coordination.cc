#include "server/api/coordination.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/store/postgres_leases.h"

namespace cohort::server {
namespace {

// The health service a load balancer checks to find the task's leader.
constexpr char kLeaderHealthService[] = "cohort.v1.Coordinator";

void SetLeaderHealth(grpc::Server& devices, bool leading) {
  grpc::HealthCheckServiceInterface* health = devices.GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(kLeaderHealthService, leading);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenCoordination(
    const ServerOptions& options, std::unique_ptr<Store> store,
    Coordination* out) {
  const CoordinationOptions& c = options.coordination;
  if (!c.enabled) return store;
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<PostgresLeases> leases,
                          PostgresLeases::Connect(options.store.postgres_dsn,
                                                  c.lease / 3, c.lease / 2));
  out->leases = std::move(leases);
  auto fenced = std::make_unique<LeaseFencedStore>(std::move(store));
  out->fenced = fenced.get();
  out->keeper = std::make_unique<LeaseKeeper>(
      out->leases.get(), options.round.task, c.holder,
      LeaseTiming{.ttl = c.lease,
                  .renew_every = c.renew_every(),
                  .poll_every = c.poll_every()},
      base::RealClock::Get());
  return std::unique_ptr<Store>(std::move(fenced));
}

absl::StatusOr<bool> LeadWhenGranted(Coordination& coordination,
                                     absl::Notification* stop,
                                     absl::Notification* engine_stop,
                                     RoundEngine& engine,
                                     Leadership& leadership,
                                     grpc::Server& devices,
                                     base::ServiceNotifier& notifier) {
  SetLeaderHealth(devices, false);
  bool ready_sent = false;
  absl::StatusOr<Lease> lease =
      coordination.keeper->AwaitLease(stop, [&](const std::string& why) {
        leadership.StandBy(why);
        const std::string status = absl::StrCat("standing by: ", why);
        if (!ready_sent) {
          base::NotifyReady(notifier, status);
          ready_sent = true;
        } else if (notifier.enabled()) {
          (void)notifier.Notify(base::WatchdogMessage(status));
        }
      });
  if (!lease.ok()) {
    if (lease.status().code() == absl::StatusCode::kCancelled) return false;
    return lease.status();
  }
  LeaseFencedStore* fenced = coordination.fenced;
  fenced->Lead(lease->epoch);
  // Renewing from now on: resuming may take longer than the lease. Once it
  // is lost, nothing more is written and devices are turned away at once.
  coordination.keeper->Keep(
      *lease, stop, engine_stop, [fenced, &leadership, &devices] {
        fenced->Depose();
        leadership.StandBy("this coordinator lost the task's lease");
        SetLeaderHealth(devices, false);
      });
  if (absl::Status started = engine.Start(); !started.ok()) {
    fenced->Depose();
    coordination.keeper->Finish();
    return started;
  }
  leadership.Lead();
  SetLeaderHealth(devices, true);
  return true;
}

}  // namespace cohort::server
