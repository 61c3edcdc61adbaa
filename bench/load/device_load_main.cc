// device_load: holds thousands of device streams open on a coordinator,
// floods it with check-ins, and times a well-behaved device's check-ins
// against the idle coordinator (bench/load/device_load.h).
//
//   build/bin/device_load --target=127.0.0.1:50051 --ca=pki/ca.crt \
//       [--held_streams=5000] [--flood_threads=8] [--probes=200] \
//       [--server_pid=PID] [--out=result.json]
//
// bench/load/run starts a coordinator for it and runs the figures in
// docs/RELIABILITY.md. The coordinator must run without mTLS and with a
// round goal above --held_streams, so that every fake device is assigned.

#include <sys/resource.h>

#include <cstdio>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/load/device_load.h"
#include "common/base/files.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The device API, host:port.");
ABSL_FLAG(std::string, ca, "", "PEM file of the coordinator's trust root.");
ABSL_FLAG(std::string, server_name, "localhost",
          "Name expected in the coordinator's certificate.");
ABSL_FLAG(std::string, population, "", "CheckIn.population of every device.");
ABSL_FLAG(int, held_streams, 5000, "Fake devices holding a stream each.");
ABSL_FLAG(int, ramp, 64, "Held streams waiting for their answer at once.");
ABSL_FLAG(int, flood_threads, 8, "Threads checking in as new devices.");
ABSL_FLAG(int, probes, 200, "Check-ins of the well-behaved device per phase.");
ABSL_FLAG(int, probe_interval_ms, 25, "Between the well-behaved check-ins.");
ABSL_FLAG(int, probe_devices, 40,
          "Well-behaved devices, one connection each, checking in in turn.");
ABSL_FLAG(int, flood_backoff_ms, 100,
          "A flood thread's pause after a refused check-in; 0 ignores refusals.");
ABSL_FLAG(int, server_pid, 0, "The coordinator's pid, for its memory.");
ABSL_FLAG(std::string, out, "", "Also write the JSON result here.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // One descriptor per held connection, and some for gRPC.
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  cohort::bench::LoadOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  auto ca = cohort::base::ReadFile(absl::GetFlag(FLAGS_ca), 1 << 20);
  if (!ca.ok()) {
    std::fprintf(stderr, "device_load: --ca: %s\n", ca.status().ToString().c_str());
    return 2;
  }
  options.ca_pem = *ca;
  options.server_name = absl::GetFlag(FLAGS_server_name);
  options.population = absl::GetFlag(FLAGS_population);
  options.held_streams = absl::GetFlag(FLAGS_held_streams);
  options.ramp = absl::GetFlag(FLAGS_ramp);
  options.flood_threads = absl::GetFlag(FLAGS_flood_threads);
  options.probes = absl::GetFlag(FLAGS_probes);
  options.probe_devices = absl::GetFlag(FLAGS_probe_devices);
  options.flood_backoff = absl::Milliseconds(absl::GetFlag(FLAGS_flood_backoff_ms));
  options.probe_interval = absl::Milliseconds(absl::GetFlag(FLAGS_probe_interval_ms));
  options.server_pid = absl::GetFlag(FLAGS_server_pid);
  auto result = cohort::bench::RunDeviceLoad(options);
  if (!result.ok()) {
    std::fprintf(stderr, "device_load: %s\n", result.status().ToString().c_str());
    return 2;
  }
  const std::string json = cohort::bench::LoadResultJson(options, *result);
  std::fputs(json.c_str(), stdout);
  if (const std::string out = absl::GetFlag(FLAGS_out); !out.empty()) {
    std::ofstream(out) << json;
  }
  return 0;
}
