// The operator's API (AdminService) on a live round engine and a directory
// store. Each input starts a fresh engine, then plays up to 48 steps decoded
// from it: every admin RPC, with a request either parsed from raw bytes (as
// gRPC would deliver it) or built from fuzzed fields, called by an allowed
// subject or another one; and rounds that commit new versions, so that
// rollbacks, promotions and pins have versions to release. Rollback,
// Promote and Pin run the engine's driver thread for the length of the call
// (RoundEngine::RollBack is served between two RunOnce steps); the fake
// clock moves only on this thread.
//
// Besides "no crash", after every step:
//  - a caller not in allowed_subjects gets PERMISSION_DENIED and changes
//    nothing (versions, releases, pause);
//  - no RPC answers UNKNOWN or INTERNAL;
//  - releases only grow, numbered 1, 2, 3, ..., each naming a stored
//    version; versions only grow;
//  - the published model keeps the initial layout and finite values.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cohort/v1/admin.pb.h"
#include "common/base/files.h"
#include "common/crypto/x509.h"
#include "fuzz/server/round/engine_fuzz_util.h"
#include "grpcpp/server_context.h"
#include "server/api/admin_service.h"
#include "server/enrollment/fleet_ca.h"
#include "server/round/device_session.h"
#include "server/round/round_engine.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"

namespace {

using cohort::server::AdminService;
using cohort::server::RoundEngine;
using cohort::server::Store;

constexpr char kTask[] = "t";
constexpr char kOperator[] = "operator";

// One fleet CA for the whole run (making a key per input would dominate).
const cohort::server::FleetCa* Ca() {
  static const cohort::server::FleetCa* ca = [] {
    const std::string dir = cohort::fuzz::FreshDir("admin-fuzz-ca");
    std::filesystem::create_directories(dir);
    auto pem = cohort::crypto::MakeSelfSignedCaForTesting(
        "Fleet CA", absl::Now() - absl::Hours(1), absl::Hours(24 * 365));
    if (!pem.ok() ||
        !cohort::base::WriteFileAtomically(dir + "/ca.crt", pem->cert_pem).ok() ||
        !cohort::base::WriteFileAtomically(dir + "/ca.key", pem->key_pem, 0600)
             .ok()) {
      std::abort();
    }
    auto loaded = cohort::server::FleetCa::Load(
        dir + "/ca.crt", dir + "/ca.key", absl::Hours(24), {kOperator});
    std::filesystem::remove_all(dir);
    if (!loaded.ok()) std::abort();
    return loaded->release();
  }();
  return ca;
}

// A field of a request: mostly one the service accepts, else fuzzed.
std::string Task(FuzzedDataProvider& in) {
  return in.ConsumeIntegralInRange(0, 3) > 0 ? kTask
                                             : in.ConsumeRandomLengthString(16);
}

std::string Reason(FuzzedDataProvider& in) {
  if (in.ConsumeIntegralInRange(0, 7) == 0) {
    return std::string(in.ConsumeIntegralInRange(4095, 4097), 'r');
  }
  return in.ConsumeRandomLengthString(32);
}

// A request of type R: 1 in 4 parsed from raw bytes, else built by `fill`.
template <typename R, typename F>
R Request(FuzzedDataProvider& in, F fill) {
  R request;
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    (void)request.ParseFromString(in.ConsumeRandomLengthString(256));
  } else {
    fill(request);
  }
  return request;
}

cohort::v1::RollbackRequest Release(FuzzedDataProvider& in) {
  return Request<cohort::v1::RollbackRequest>(in, [&](auto& r) {
    r.set_task(Task(in));
    r.set_to_version(in.ConsumeIntegralInRange<int64_t>(-1, 6));
    r.set_reason(Reason(in));
  });
}

cohort::v1::PauseRequest Pause(FuzzedDataProvider& in) {
  return Request<cohort::v1::PauseRequest>(in, [&](auto& r) {
    r.set_task(Task(in));
    r.set_reason(Reason(in));
  });
}

// What the checks compare before and after a step.
struct Snapshot {
  std::vector<cohort::server::ModelVersionRecord> versions;
  std::vector<cohort::server::ReleaseRecord> releases;
  bool paused = false;
};

Snapshot Take(Store& store, const RoundEngine& engine) {
  auto versions = store.ListVersions(kTask);
  auto releases = store.ListReleases(kTask);
  if (!versions.ok() || !releases.ok()) std::abort();
  return {*std::move(versions), *std::move(releases), engine.paused()};
}

void CheckStep(const Snapshot& before, const Snapshot& after,
               const grpc::Status& status, bool allowed) {
  if (status.error_code() == grpc::StatusCode::UNKNOWN ||
      status.error_code() == grpc::StatusCode::INTERNAL) {
    std::abort();
  }
  if (!allowed && (status.error_code() != grpc::StatusCode::PERMISSION_DENIED ||
                   after.versions.size() != before.versions.size() ||
                   after.releases.size() != before.releases.size() ||
                   after.paused != before.paused)) {
    std::abort();
  }
  if (after.versions.size() < before.versions.size() ||
      after.releases.size() < before.releases.size()) {
    std::abort();
  }
  for (size_t i = 0; i < after.releases.size(); ++i) {
    const auto& r = after.releases[i];
    if (r.release != static_cast<int64_t>(i) + 1) std::abort();
    bool stored = false;
    for (const auto& v : after.versions) stored |= v.version == r.version;
    if (!stored) std::abort();
  }
}

// Runs the engine's driver thread while `call` runs (RollBack waits for it).
template <typename F>
grpc::Status Driven(RoundEngine& engine, F call) {
  absl::Notification stop, ended;
  std::thread driver([&] {
    engine.Run(&stop, absl::Microseconds(50));
    ended.Notify();
  });
  while (!engine.running() && !ended.HasBeenNotified()) {
    std::this_thread::yield();
  }
  grpc::Status status = call();
  stop.Notify();
  driver.join();
  return status;
}

// One device checks in and reports a small delta; the engine's next steps
// commit the round (goal 1).
void PlayRound(FuzzedDataProvider& in, RoundEngine& engine,
               cohort::server::LiveDevices& live,
               const cohort::testing::FakeTaskModel& model, int* devices) {
  engine.RunOnce();  // opens a round if none is open
  cohort::server::DeviceSession session(&engine, &live, "");
  cohort::v1::CheckIn check_in;
  check_in.set_device_id(absl::StrCat("d", (*devices)++));
  check_in.set_population(kTask);
  if (!session.CheckIn(check_in).ok()) return;
  cohort::v1::Report report;
  report.set_round_id(engine.round_id());
  *report.mutable_delta() = model.Filled(in.ConsumeFloatingPointInRange(-1.0f, 1.0f));
  report.set_num_examples(10);
  report.set_train_loss(0.5);
  (void)session.Report(report);
  session.Answered();
  engine.RunOnce();
}

// The RPCs that only read: the versions, releases, a manifest, the status,
// the tasks and the devices.
grpc::Status Read(FuzzedDataProvider& in, AdminService& admin,
                  grpc::ServerContext& context) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: {
      auto r = Request<cohort::v1::ListVersionsRequest>(
          in, [&](auto& q) { q.set_task(Task(in)); });
      cohort::v1::ListVersionsResponse out;
      return admin.ListVersions(&context, &r, &out);
    }
    case 1: {
      auto r = Request<cohort::v1::ListReleasesRequest>(
          in, [&](auto& q) { q.set_task(Task(in)); });
      cohort::v1::ListReleasesResponse out;
      return admin.ListReleases(&context, &r, &out);
    }
    case 2: {
      auto r = Request<cohort::v1::GetManifestRequest>(in, [&](auto& q) {
        q.set_task(Task(in));
        q.set_release(in.ConsumeIntegralInRange<int64_t>(-1, 6));
      });
      cohort::v1::SignedManifest out;
      return admin.GetManifest(&context, &r, &out);
    }
    case 3: {
      auto r = Request<cohort::v1::StatusRequest>(
          in, [&](auto& q) { q.set_task(Task(in)); });
      cohort::v1::StatusResponse out;
      return admin.Status(&context, &r, &out);
    }
    case 4: {
      cohort::v1::ListTasksRequest r;
      cohort::v1::ListTasksResponse out;
      return admin.ListTasks(&context, &r, &out);
    }
    default: {
      auto r = Request<cohort::v1::ListDevicesRequest>(in, [&](auto& q) {
        q.set_task(Task(in));
        q.set_limit(in.ConsumeIntegralInRange(-1, 1001));
        q.set_after(in.ConsumeBool() ? "d1" : in.ConsumeRandomLengthString(8));
      });
      cohort::v1::ListDevicesResponse out;
      return admin.ListDevices(&context, &r, &out);
    }
  }
}

// The RPCs that change something: releases (against the driver thread),
// pause and resume, enrollment tokens.
grpc::Status Write(FuzzedDataProvider& in, AdminService& admin,
                   RoundEngine& engine, grpc::ServerContext& context) {
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: {
      const int which = in.ConsumeIntegralInRange(0, 2);
      const auto r = Release(in);
      cohort::v1::RollbackResponse out;
      return Driven(engine, [&] {
        return which == 0   ? admin.Rollback(&context, &r, &out)
               : which == 1 ? admin.Promote(&context, &r, &out)
                            : admin.Pin(&context, &r, &out);
      });
    }
    case 1: {
      const bool pause = in.ConsumeBool();
      const auto r = Pause(in);
      cohort::v1::StatusResponse out;
      return pause ? admin.Pause(&context, &r, &out)
                   : admin.Resume(&context, &r, &out);
    }
    default: {
      auto r = Request<cohort::v1::CreateEnrollmentTokenRequest>(
          in, [&](auto& q) {
            q.set_device_id(in.ConsumeBool() ? "edge-7"
                                             : in.ConsumeRandomLengthString(70));
            q.set_ttl_hours(in.ConsumeIntegralInRange(-1, 721));
          });
      cohort::v1::EnrollmentToken out;
      return admin.CreateEnrollmentToken(&context, &r, &out);
    }
  }
}

grpc::Status Call(FuzzedDataProvider& in, AdminService& admin,
                  RoundEngine& engine) {
  grpc::ServerContext context;
  return in.ConsumeBool() ? Read(in, admin, context)
                          : Write(in, admin, engine, context);
}

void Run(FuzzedDataProvider& in, const std::string& dir) {
  cohort::server::RoundOptions options;
  options.task = kTask;
  options.goal_count = 1;
  options.min_reports = 1;
  options.over_selection = 1.0;
  cohort::fuzz::FuzzEngine fuzz(dir, options);
  RoundEngine& engine = fuzz.engine();
  // Whether the caller is allowed is decided per step, before the call.
  std::string subject = kOperator;
  AdminService admin(&fuzz.store(), &engine, {kOperator}, Ca(),
                     [&](const grpc::ServerContext&) { return subject; });
  cohort::server::LiveDevices live;
  int devices = 0;
  for (int step = 0; step < 48 && in.remaining_bytes() > 0; ++step) {
    const int action = in.ConsumeIntegralInRange(0, 7);
    if (action == 0) {
      PlayRound(in, engine, live, fuzz.model(), &devices);
    } else if (action == 1) {
      fuzz.clock().Advance(absl::Milliseconds(in.ConsumeIntegralInRange(0, 100000)));
      engine.RunOnce();
    } else {
      const bool allowed = in.ConsumeIntegralInRange(0, 4) > 0;
      // "x...", never "operator"; "" is a caller without a certificate.
      subject = allowed ? kOperator
                : in.ConsumeBool()
                    ? ""
                    : absl::StrCat("x", in.ConsumeRandomLengthString(12));
      const Snapshot before = Take(fuzz.store(), engine);
      const grpc::Status status = Call(in, admin, engine);
      CheckStep(before, Take(fuzz.store(), engine), status, allowed);
    }
    fuzz.Check();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cohort::fuzz::RunInFreshDir("admin-service-fuzz", data, size, Run);
}
