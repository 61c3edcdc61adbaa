#include "bench/load/device_load.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/load/held_streams.h"
#include "cohort/v1/coordinator.grpc.pb.h"

namespace cohort::bench {
namespace {

// One check-in on a fresh stream of `stub`: the time from opening the
// stream to the coordinator's first answer, or nullopt (then `error`, when
// not null and empty, gets the status, and `code`, when not null, its code).
std::optional<absl::Duration> TimedCheckIn(cohort::v1::Coordinator::Stub& stub,
                                           const std::string& device_id,
                                           const LoadOptions& options,
                                           std::string* error,
                                           grpc::StatusCode* code = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options.answer_timeout));
  const absl::Time start = absl::Now();
  auto stream = stub.Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id(device_id);
  hello.mutable_check_in()->set_population(options.population);
  cohort::v1::ServerMessage reply;
  const bool answered =
      stream->Write(hello) && stream->Read(&reply) &&
      (reply.has_task_assignment() || reply.has_retry_window());
  const absl::Duration latency = absl::Now() - start;
  if (answered) {
    ctx.TryCancel();  // a device that got an assignment leaves at once
    stream->Finish();
    return latency;
  }
  const grpc::Status status = stream->Finish();
  if (code != nullptr) *code = status.error_code();
  if (error != nullptr && error->empty()) {
    *error = absl::StrCat("check-in of ", device_id, ": ", status.error_code(),
                          " ", status.error_message());
  }
  return std::nullopt;
}

// Nearest-rank percentile of sorted `ms`.
double Percentile(const std::vector<double>& ms, double q) {
  if (ms.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * ms.size()));
  return ms[std::clamp<size_t>(rank, 1, ms.size()) - 1];
}

using Stubs = std::vector<std::unique_ptr<cohort::v1::Coordinator::Stub>>;

// `options.probes` check-ins of the well-behaved devices, one every
// probe_interval, each device in turn on its own long-lived connection.
LatencyStats RunProbes(const Stubs& devices, const LoadOptions& options,
                       const std::string& phase, std::string* error) {
  LatencyStats stats;
  std::vector<double> ms;
  for (int i = 0; i < options.probes; ++i) {
    const absl::Time next = absl::Now() + options.probe_interval;
    ++stats.sent;
    const size_t device = static_cast<size_t>(i) % devices.size();
    auto latency = TimedCheckIn(
        *devices[device],
        absl::StrCat(options.device_prefix, "-probe-", device, "-", phase, "-",
                     i),
        options, error);
    if (latency.has_value()) ms.push_back(absl::ToDoubleMilliseconds(*latency));
    absl::SleepFor(next - absl::Now());
  }
  std::sort(ms.begin(), ms.end());
  stats.answered = static_cast<int>(ms.size());
  stats.p50_ms = Percentile(ms, 0.50);
  stats.p99_ms = Percentile(ms, 0.99);
  stats.max_ms = ms.empty() ? 0 : ms.back();
  return stats;
}

// A `VmRSS:` or `VmHWM:` line of /proc/<pid>/status, in bytes; 0 if absent.
int64_t ProcStatusBytes(pid_t pid, const std::string& key) {
  if (pid <= 0) return 0;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string name;
  int64_t kib = 0;
  while (in >> name) {
    if (name == key + ":" && in >> kib) return kib * 1024;
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

// Threads that check in as new fake devices, back to back, until stopped.
class Flood {
 public:
  explicit Flood(const LoadOptions& options) : options_(options) {}
  ~Flood() { Stop(); }

  void Start() {
    start_ = absl::Now();
    for (int t = 0; t < options_.flood_threads; ++t) {
      threads_.emplace_back([this, t] { Loop(t); });
    }
  }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    if (!threads_.empty()) seconds_ = absl::ToDoubleSeconds(absl::Now() - start_);
    threads_.clear();
  }
  void Tally(LoadResult* result) const {
    result->flood_checkins = answered_;
    result->flood_refused = refused_;
    result->flood_errors = errors_;
    result->flood_seconds = seconds_;
  }

 private:
  void Loop(int thread) {
    // The generator shares the coordinator's machine; a real flood comes
    // from other machines. At the lowest priority these threads yield the
    // CPU to the coordinator and to the probe's thread (gRPC's own client
    // threads keep the normal priority).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
    auto stub = cohort::v1::Coordinator::NewStub(OwnConnection(options_));
    for (int64_t n = 0; !stop_; ++n) {
      const std::string id =
          absl::StrCat(options_.device_prefix, "-flood-", thread, "-", n);
      grpc::StatusCode code = grpc::StatusCode::OK;
      if (TimedCheckIn(*stub, id, options_, nullptr, &code).has_value()) {
        ++answered_;
        continue;
      }
      // Refused (over the rate, or at the door): back off as a device would.
      ++(code == grpc::StatusCode::RESOURCE_EXHAUSTED ? refused_ : errors_);
      absl::SleepFor(options_.flood_backoff);
    }
  }

  const LoadOptions options_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> answered_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> errors_{0};
  absl::Time start_;
  double seconds_ = 0;
};

// Samples the coordinator's VmRSS every 100 ms and keeps the highest.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid) {
    if (pid_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~RssSampler() { Stop(); }
  int64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return max_;
  }

 private:
  void Loop() {
    while (!stop_) {
      max_ = std::max<int64_t>(max_, ProcStatusBytes(pid_, "VmRSS"));
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  const pid_t pid_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_{0};
};

}  // namespace

double LoadResult::P99FloodOverIdle() const {
  if (idle.answered == 0 || flood.answered == 0 || idle.p99_ms <= 0) return 0;
  return flood.p99_ms / idle.p99_ms;
}

absl::StatusOr<LoadResult> RunDeviceLoad(const LoadOptions& options) {
  if (options.target.empty() || options.ca_pem.empty()) {
    return absl::InvalidArgumentError("a target and a CA are required");
  }
  if (options.held_streams < 0 || options.ramp < 1 ||
      options.flood_threads < 0 || options.probes < 1 ||
      options.probe_devices < 1) {
    return absl::InvalidArgumentError(
        "held_streams and flood_threads must be >= 0, ramp, probes and "
        "probe_devices >= 1");
  }
  LoadResult result;
  Stubs probes;
  for (int d = 0; d < options.probe_devices; ++d) {
    probes.push_back(cohort::v1::Coordinator::NewStub(OwnConnection(options)));
    // Connects the device's channel, so the idle phase times check-ins only.
    TimedCheckIn(*probes.back(),
                 absl::StrCat(options.device_prefix, "-probe-", d, "-warm"),
                 options, nullptr);
  }
  result.idle = RunProbes(probes, options, "idle", &result.first_error);
  result.server_rss_idle_bytes = ProcStatusBytes(options.server_pid, "VmRSS");

  RssSampler sampler(options.server_pid);
  HeldStreams held(options);
  const absl::Time ramp_start = absl::Now();
  held.Open();
  result.ramp_seconds = absl::ToDoubleSeconds(absl::Now() - ramp_start);
  Flood flood(options);
  flood.Start();
  absl::SleepFor(absl::Seconds(1));
  std::string probe_error;
  result.flood = RunProbes(probes, options, "flood", &probe_error);
  flood.Stop();
  flood.Tally(&result);
  result.server_rss_max_bytes = sampler.Stop();
  held.Tally(&result);  // before the release: streams still held count
  held.Release();
  result.server_peak_rss_bytes = ProcStatusBytes(options.server_pid, "VmHWM");
  if (result.first_error.empty()) result.first_error = probe_error;
  return result;
}

std::string LoadResultJson(const LoadOptions& o, const LoadResult& r) {
  auto stats = [](const LatencyStats& s) {
    return absl::StrFormat(
        R"({"sent": %d, "answered": %d, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f})",
        s.sent, s.answered, s.p50_ms, s.p99_ms, s.max_ms);
  };
  const double mib = 1024.0 * 1024.0;
  return absl::StrCat(
      "{\n",
      absl::StrFormat(
          "  \"held_streams\": %d,\n  \"ramp\": %d,\n  \"flood_threads\": %d,\n"
          "  \"flood_backoff_ms\": %d,\n  \"probes_per_phase\": %d,\n"
          "  \"probe_devices\": %d,\n  \"probe_interval_ms\": %d,\n",
          o.held_streams, o.ramp, o.flood_threads,
          static_cast<int>(absl::ToInt64Milliseconds(o.flood_backoff)),
          o.probes, o.probe_devices,
          static_cast<int>(absl::ToInt64Milliseconds(o.probe_interval))),
      absl::StrFormat(
          "  \"held_assigned\": %d,\n  \"held_retried\": %d,\n"
          "  \"held_failed\": %d,\n  \"held_ended_early\": %d,\n"
          "  \"ramp_seconds\": %.2f,\n",
          r.held_assigned, r.held_retried, r.held_failed, r.held_ended_early,
          r.ramp_seconds),
      absl::StrFormat(
          "  \"flood_checkins\": %d,\n  \"flood_refused\": %d,\n"
          "  \"flood_errors\": %d,\n  \"flood_checkins_per_second\": %.1f,\n"
          "  \"flood_refused_per_second\": %.1f,\n",
          r.flood_checkins, r.flood_refused, r.flood_errors,
          r.flood_seconds > 0 ? r.flood_checkins / r.flood_seconds : 0.0,
          r.flood_seconds > 0 ? r.flood_refused / r.flood_seconds : 0.0),
      "  \"probe_idle\": ", stats(r.idle), ",\n",
      "  \"probe_under_load\": ", stats(r.flood), ",\n",
      absl::StrFormat("  \"p99_under_load_vs_idle\": %.2f,\n",
                      r.P99FloodOverIdle()),
      absl::StrFormat(
          "  \"server_rss_idle_mib\": %.1f,\n  \"server_rss_max_mib\": %.1f,\n"
          "  \"server_peak_rss_mib\": %.1f,\n",
          r.server_rss_idle_bytes / mib, r.server_rss_max_bytes / mib,
          r.server_peak_rss_bytes / mib),
      absl::StrFormat("  \"first_error\": \"%s\"\n}\n",
                      absl::CHexEscape(r.first_error)));
}

}  // namespace cohort::bench
