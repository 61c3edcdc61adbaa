// Server time of one secure round with hierarchical SecAgg+ (issue 17,
// item 4): the coordinator's SecAggGroups over n devices in groups of at most
// G, against one group of n where that fits. Devices are real
// SecAggParticipants in this process, run between the server's calls; only
// the time inside the server's calls counts (Start, Receive, Gone, Tick,
// Result): the work the coordinator does for the round's secure part,
// routing included. A fraction of devices (--dropout) leaves after
// ShareKeys, so Unmasking reconstructs their secrets and removes their
// masks. The decoded mean must match the survivors' plain mean (quantization
// aside) or the run fails.
//
//   secagg_groups_bench --devices=5000,10000 --groups=0,500,1000
//
// --groups=0 is one group of all devices. Prints one JSON object per run
// and a table; bench/secagg_groups writes them to docs/bench/scale.json.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/secagg/secagg_participant.h"
#include "common/base/logging.h"
#include "common/base/parallel_for.h"
#include "common/crypto/secure_random.h"
#include "common/secagg/parameter_finder.h"
#include "server/round/secagg_groups.h"

ABSL_FLAG(std::string, devices, "5000,10000", "Cohort sizes, comma-separated.");
ABSL_FLAG(std::string, groups, "0,500,1000",
          "max_group_size values; 0 is one group of all devices.");
ABSL_FLAG(int64_t, dimension, 1000, "Float coordinates of each update.");
ABSL_FLAG(double, dropout, 0.05,
          "Fraction of devices that leave after ShareKeys.");

namespace cohort::server {
namespace {

using Clock = std::chrono::steady_clock;

class QueueChannel final : public DeviceChannel {
 public:
  void Send(cohort::v1::ServerMessage m) override { queue.push_back(std::move(m)); }
  std::deque<cohort::v1::ServerMessage> queue;
};

struct Device {
  std::string name;
  std::shared_ptr<QueueChannel> channel = std::make_shared<QueueChannel>();
  std::unique_ptr<secagg::SecAggParticipant> participant;
  bool leaves = false;
  bool gone = false;
};

struct Run {
  int devices = 0, max_group_size = 0, groups = 0, k = 0, t = 0;
  int64_t contributors = 0;
  double server_ms = 0, unmask_ms = 0, wall_ms = 0;
};

// Times the server's calls.
class ServerTimer {
 public:
  template <typename F>
  auto operator()(F&& f) {
    const auto t0 = Clock::now();
    struct Add {
      ServerTimer* timer;
      Clock::time_point t0;
      ~Add() {
        timer->ms += std::chrono::duration<double, std::milli>(Clock::now() - t0)
                         .count();
      }
    } add{this, t0};
    return f();
  }
  double ms = 0;
};

float Value(int i) { return 0.01f * static_cast<float>(i % 50) - 0.2f; }

Run RunOnce(int n, int max_group_size, int64_t d, double dropout) {
  crypto::OpenSslRandom random;
  std::vector<Device> devices(n);
  std::map<std::string, std::shared_ptr<DeviceChannel>> cohort;
  const int leave_every = dropout > 0 ? static_cast<int>(std::lround(1 / dropout)) : 0;
  double survivors_sum = 0;
  int survivors = 0;
  for (int i = 0; i < n; ++i) {
    Device& dev = devices[i];
    dev.name = absl::StrFormat("device-%06d", i);
    dev.leaves = leave_every > 0 && i % leave_every == leave_every - 1;
    dev.participant = std::make_unique<secagg::SecAggParticipant>(
        std::vector<float>(d, Value(i)), 10, 0.5, 1000 + i, &random);
    cohort[dev.name] = dev.channel;
    if (!dev.leaves) {
      survivors_sum += Value(i);
      ++survivors;
    }
  }
  SecAggOptions options;
  options.enabled = true;
  options.example_cap = 10;
  options.max_group_size = max_group_size;
  ServerTimer server;
  const absl::Time now = absl::Now();
  const auto wall0 = Clock::now();
  auto groups = server([&] {
    return SecAggGroups::Start(options, /*clip_norm=*/10.0, /*round_id=*/7, d,
                               std::move(cohort), now, base::AvailableCores());
  });
  CHECK(groups.ok()) << groups.status();
  SecAggGroups& g = **groups;
  double unmask_ms = 0;
  for (bool progressed = true; progressed && !g.completed() && !g.aborted();) {
    progressed = false;
    for (Device& dev : devices) {
      while (!dev.gone && !dev.channel->queue.empty()) {
        cohort::v1::ServerMessage m = std::move(dev.channel->queue.front());
        dev.channel->queue.pop_front();
        if (!m.has_secagg()) continue;
        progressed = true;
        std::vector<cohort::v1::SecAggClientMessage> out;
        const absl::Status handled = dev.participant->Handle(m.secagg(), &out);
        CHECK(handled.ok()) << dev.name << ": " << handled;
        for (auto& o : out) {
          if (dev.leaves && o.has_masked_input()) {
            server([&] { g.Gone(dev.name); });
            dev.gone = true;
            break;
          }
          const bool unmasking = o.has_unmasking_response();
          const double before = server.ms;
          const absl::Status received =
              server([&] { return g.Receive(dev.name, o); });
          CHECK(received.ok()) << dev.name << ": " << received;
          if (unmasking) unmask_ms += server.ms - before;
        }
      }
    }
    server([&] { g.Tick(now); });
  }
  CHECK(g.completed()) << g.abort_status();
  auto sum = server([&] { return g.Result(); });
  CHECK(sum.ok()) << sum.status();
  // Every device's delta is constant, so every coordinate of the mean is
  // the survivors' plain mean.
  const double expected = survivors_sum / survivors;
  for (size_t j = 0; j < sum->weighted_delta_sum.size(); ++j) {
    const double mean = sum->weighted_delta_sum[j] / sum->weight_sum;
    CHECK(std::abs(mean - expected) < 1e-3)
        << "coordinate " << j << ": secure mean " << mean << " vs plain "
        << expected;
  }
  CHECK_EQ(g.contributors(), survivors);
  Run r;
  r.devices = n;
  r.max_group_size = max_group_size;
  r.groups = g.num_groups();
  const int largest = secagg::GroupSizes(n, max_group_size).front();
  auto params = secagg::ChooseParameters(largest, 0.1, 0.05);
  CHECK(params.ok()) << params.status();
  r.k = params->k;
  r.t = params->t;
  r.contributors = g.contributors();
  r.server_ms = server.ms;
  r.unmask_ms = unmask_ms;
  r.wall_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - wall0).count();
  return r;
}

std::vector<int> Ints(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int v = 0;
    CHECK(absl::SimpleAtoi(part, &v)) << "not a number: " << part;
    out.push_back(v);
  }
  return out;
}

}  // namespace
}  // namespace cohort::server

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  cohort::base::InitLogging(argv[0]);
  using cohort::server::Ints;
  const int64_t d = absl::GetFlag(FLAGS_dimension);
  const double dropout = absl::GetFlag(FLAGS_dropout);
  for (int n : Ints(absl::GetFlag(FLAGS_devices))) {
    for (int g : Ints(absl::GetFlag(FLAGS_groups))) {
      const auto r = cohort::server::RunOnce(n, g, d, dropout);
      std::printf(
          "{\"devices\": %d, \"max_group_size\": %d, \"groups\": %d, \"k\": %d, "
          "\"t\": %d, \"dimension\": %lld, \"dropout\": %.3f, "
          "\"contributors\": %lld, \"server_ms\": %.1f, "
          "\"server_unmasking_ms\": %.1f, \"wall_ms\": %.1f}\n",
          r.devices, r.max_group_size, r.groups, r.k, r.t,
          static_cast<long long>(d), dropout,
          static_cast<long long>(r.contributors), r.server_ms, r.unmask_ms,
          r.wall_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
