#ifndef COHORT_BENCH_LOAD_DEVICE_LOAD_H_
#define COHORT_BENCH_LOAD_DEVICE_LOAD_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::bench {

// A load generator for the coordinator's device API (Coordinator.Participate
// over TLS), in three parts that run together:
//  - held streams: fake devices, one TLS connection each, that check in and
//    then hold their stream open as a device does while it trains;
//  - a flood: threads, one connection each, that check in as a new fake
//    device each time, as fast as the coordinator answers, and close the
//    stream. A refused check-in (an RPC error, such as RESOURCE_EXHAUSTED
//    past the coordinator's per-source rate) is followed by
//    `flood_backoff`, as a device backs off; zero makes a flood that
//    ignores refusals. They run at nice 19: the generator shares the
//    coordinator's machine, and a real flood would not take the
//    coordinator's CPU to send its requests;
//  - probes: `probe_devices` well-behaved devices, each on its own
//    connection, that check in in turn, one every `probe_interval`, and
//    time the answer (TaskAssignment or RetryWindow), first on the idle
//    coordinator, then under the held streams and the flood. Each device
//    checks in once per probe_interval x probe_devices, which must stay
//    within the coordinator's check-in rate per source.
// Devices present no client certificate, so the coordinator must run
// without mTLS (CheckIn.device_id names each fake device).
struct LoadOptions {
  std::string target;                    // "host:port" of the device API
  std::string ca_pem;                    // the coordinator's trust root, PEM
  std::string server_name = "localhost"; // expected in its certificate
  std::string population;                // CheckIn.population
  std::string device_prefix = "load";    // fake device ids start with it
  int held_streams = 5000;
  int ramp = 64;  // held streams waiting for their answer at once
  int flood_threads = 8;
  absl::Duration flood_backoff = absl::Milliseconds(100);
  int probes = 200;  // per phase
  int probe_devices = 40;
  absl::Duration probe_interval = absl::Milliseconds(25);
  absl::Duration answer_timeout = absl::Seconds(10);  // per check-in
  // Every held stream must have its answer by then.
  absl::Duration ramp_timeout = absl::Seconds(600);
  // Read the coordinator's resident memory from /proc when > 0.
  pid_t server_pid = 0;
};

// Latencies of one phase's probes, milliseconds from opening the stream to
// the coordinator's answer. Unanswered probes are not in the percentiles.
struct LatencyStats {
  int sent = 0;
  int answered = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

struct LoadResult {
  LatencyStats idle;
  LatencyStats flood;
  int held_requested = 0;
  int held_assigned = 0;  // answered with a TaskAssignment
  int held_retried = 0;   // answered with a RetryWindow (not held)
  int held_failed = 0;    // no answer: an RPC error or the ramp timeout
  // Held streams the coordinator ended before the generator released them.
  int held_ended_early = 0;
  double ramp_seconds = 0;
  int64_t flood_checkins = 0;  // answered
  int64_t flood_refused = 0;   // RESOURCE_EXHAUSTED (the per-source rate)
  int64_t flood_errors = 0;    // any other RPC error
  double flood_seconds = 0;
  // The coordinator's VmRSS before any load, its highest sample while the
  // streams were held (every 100 ms), and its VmHWM at the end; 0 without
  // a server pid.
  int64_t server_rss_idle_bytes = 0;
  int64_t server_rss_max_bytes = 0;
  int64_t server_peak_rss_bytes = 0;
  // The first RPC error seen, for the report; empty when none.
  std::string first_error;

  // flood.p99_ms / idle.p99_ms, 0 when either is missing.
  double P99FloodOverIdle() const;
};

// Runs the idle probes, opens the held streams, starts the flood, runs the
// probes again, then releases everything. INVALID_ARGUMENT for options out
// of range; a failure to reach the coordinator shows in the result.
absl::StatusOr<LoadResult> RunDeviceLoad(const LoadOptions& options);

// The result and the options that shaped it, as one JSON object.
std::string LoadResultJson(const LoadOptions& options, const LoadResult& result);

}  // namespace cohort::bench

#endif  // COHORT_BENCH_LOAD_DEVICE_LOAD_H_
