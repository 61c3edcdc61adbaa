// The device-API load generator (bench/load) against a real cohort-server,
// scaled down from the 5,000-stream figure in docs/RELIABILITY.md: every
// fake device gets its assignment and keeps its stream while a flood of
// check-ins runs, the well-behaved device is answered every time, and the
// coordinator stays up. Latency ratios are the benchmark's, not asserted.

#include "bench/load/device_load.h"
#include "common/base/files.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

using LoadTest = ClusterTest;

TEST_F(LoadTest, HeldStreamsAndACheckInFloodLeaveWellBehavedDevicesServed) {
  constexpr int kHeld = 300;
  ServerOptions o = DirectoryServer();
  o.mtls = false;  // the fake devices have no certificates
  o.goal = 2 * kHeld;
  o.max_rounds = 0;
  o.selection_timeout_ms = 600000;  // the round selects throughout
  o.report_timeout_ms = 600000;     // and no held stream reaches its grace
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();

  bench::LoadOptions load;
  load.target = absl::StrCat("127.0.0.1:", port);
  auto ca = base::ReadFile(pki_dir_ + "/ca.crt", 1 << 20);
  ASSERT_TRUE(ca.ok()) << ca.status();
  load.ca_pem = *ca;
  load.held_streams = kHeld;
  load.flood_threads = 4;
  load.probes = 40;
  load.ramp_timeout = absl::Seconds(120);
  load.server_pid = server->pid();
  auto result = bench::RunDeviceLoad(load);
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string json = bench::LoadResultJson(load, *result);

  EXPECT_EQ(result->held_assigned, kHeld) << json << server->Log();
  EXPECT_EQ(result->held_failed, 0) << json;
  EXPECT_EQ(result->held_ended_early, 0) << json;
  EXPECT_EQ(result->idle.answered, load.probes) << json;
  EXPECT_EQ(result->flood.answered, load.probes) << json;
  EXPECT_GT(result->flood_checkins, 0) << json;
  EXPECT_EQ(result->flood_errors, 0) << json;
  EXPECT_EQ(result->first_error, "") << json;
  // The coordinator's memory was read, and is far from the 1 GiB bound
  // that the full-size benchmark checks at 5,000 streams.
  EXPECT_GT(result->server_rss_max_bytes, 0) << json;
  EXPECT_LT(result->server_peak_rss_bytes, int64_t{1} << 30) << json;
  EXPECT_TRUE(server->running()) << server->Log();
}

}  // namespace
}  // namespace cohort::testing
