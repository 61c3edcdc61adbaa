// Update ingest over gRPC + TLS against raw TLS on loopback (issue 17,
// item 5: ingest_vs_raw_tls). bench/limits starts a cohort-server (plain
// FedAvg, fp32 artifacts, a goal of --devices reports) and runs this
// against it:
//   ingest   in each of --rounds rounds, --devices fake devices check in
//            over one GrpcTransport (GrpcTransport multiplexes every
//            session on one TLS connection), fetch the model once, and then
//            all send their Report at once, each on its own thread; from the
//            first send to the last accepted Ack, report bytes per second;
//            the best round;
//   raw TLS  the same number of bytes written in 16 KiB records over one
//            TLS 1.3 connection on loopback, in this process, with the
//            coordinator's certificate and key (raw_tls_baseline.cc), one
//            run right after each round; the best of as many runs.
// Prints one JSON object.
//
//   ingest_bench --target=127.0.0.1:PORT --ca=ca.crt --cert=server.crt
//                --key=server.key [--devices=24] [--rounds=3]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bench/raw_tls_baseline.h"
#include "client/transport/grpc_transport.h"
#include "common/base/logging.h"

ABSL_FLAG(std::string, target, "", "host:port of the coordinator's device API.");
ABSL_FLAG(std::string, ca, "", "The coordinator's trust root (PEM file).");
ABSL_FLAG(std::string, cert, "", "The coordinator's certificate, for raw TLS.");
ABSL_FLAG(std::string, key, "", "The coordinator's key, for raw TLS.");
ABSL_FLAG(int, devices, 24, "Devices that report at once (the round's goal).");
ABSL_FLAG(int, rounds, 3,
          "Rounds measured (the coordinator's max_rounds); the fastest counts, "
          "as the best of as many raw TLS runs does.");

namespace cohort::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Device {
  std::unique_ptr<client::ParticipationSession> session;
  cohort::v1::TaskAssignment assignment;
};

// Checks in until the coordinator assigns the round (it waits for all
// devices before the round's reports open).
cohort::v1::TaskAssignment Assign(client::CoordinatorTransport& transport,
                                  Device& d, const std::string& id) {
  for (int attempt = 0; attempt < 600; ++attempt) {
    d.session = transport.OpenSession();
    cohort::v1::CheckIn check_in;
    check_in.set_device_id(id);
    auto answer = d.session->CheckIn(check_in);
    CHECK(answer.ok()) << id << ": " << answer.status();
    if (answer->has_task_assignment()) return answer->task_assignment();
    d.session->Close();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  LOG(FATAL) << id << " was never assigned";
}

cohort::v1::Report MakeReport(const cohort::v1::Weights& model,
                              int64_t round_id) {
  cohort::v1::Report report;
  report.set_round_id(round_id);
  report.set_num_examples(60);
  report.set_train_loss(0.5);
  *report.mutable_delta() = model;
  for (auto& t : *report.mutable_delta()->mutable_tensors()) {
    std::string* data = t.mutable_data();
    std::vector<float> v(data->size() / sizeof(float), 0.001f);
    data->assign(reinterpret_cast<const char*>(v.data()), data->size());
  }
  return report;
}

// One round: `n` devices check in, one fetches the model, and all send
// their Report at once; the seconds from the first send to the last
// accepted Ack, and the bytes of one report.
double IngestRound(client::CoordinatorTransport& transport, int n, int round,
                   double* report_bytes) {
  std::vector<Device> devices(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      devices[i].assignment = Assign(transport, devices[i],
                                     absl::StrCat("ingest-", round, "-", i));
    });
  }
  for (auto& t : threads) t.join();
  threads.clear();
  const auto& a = devices[0].assignment;
  auto bytes = transport.FetchModel(a.model(), a.task());
  CHECK(bytes.ok()) << bytes.status();
  cohort::v1::Weights model;
  CHECK(model.ParseFromString(*bytes)) << "the artifact is not fp32 Weights";
  const cohort::v1::Report report = MakeReport(model, a.round_id());
  *report_bytes = static_cast<double>(report.ByteSizeLong());
  absl::Notification go;
  std::vector<int> accepted(n, 0);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      auto ack = devices[i].session->Report(report);
      CHECK(ack.ok()) << "device " << i << ": " << ack.status();
      accepted[i] = ack->accepted();
      devices[i].session->Close();
    });
  }
  const auto t0 = Clock::now();
  go.Notify();
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - t0).count();
  const int ok = static_cast<int>(std::count(accepted.begin(), accepted.end(), 1));
  CHECK_EQ(ok, n) << "reports refused in round " << round;
  return seconds;
}

int Main() {
  const int n = absl::GetFlag(FLAGS_devices);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  cohort::v1::TlsConfig tls;
  tls.set_ca_cert_path(absl::GetFlag(FLAGS_ca));
  auto transport = client::GrpcTransport::Connect(absl::GetFlag(FLAGS_target),
                                                  tls, "localhost");
  CHECK(transport.ok()) << transport.status();
  // The machine's speed drifts within a minute, so each ingest round is
  // followed by one raw TLS run of the same bytes; each side's best counts.
  double report_bytes = 0, seconds = 1e300, raw = 0;
  for (int r = 0; r < rounds; ++r) {
    const double s = IngestRound(**transport, n, r, &report_bytes);
    auto tls = RawTlsBytesPerSecond(absl::GetFlag(FLAGS_cert),
                                    absl::GetFlag(FLAGS_key),
                                    static_cast<int64_t>(report_bytes * n), 1);
    CHECK(tls.ok()) << tls.status();
    std::fprintf(stderr, "round %d: %.3f s; raw TLS %.4g B/s\n", r + 1, s, *tls);
    seconds = std::min(seconds, s);
    raw = std::max(raw, *tls);
  }
  const double total = report_bytes * n;
  const double ingest = total / seconds;
  const double ratio = ingest / raw;
  std::fprintf(stderr,
               "ingest %d reports of %.0f bytes in %.3f s: %.4g B/s; raw TLS "
               "%.4g B/s; %.3fx\n",
               n, report_bytes, seconds, ingest, raw, ratio);
  std::printf(
      "{\"ratio\": %.4f, \"goal\": 0.5, \"devices\": %d, \"rounds\": %d, \"report_bytes\": %.0f, "
      "\"ingest_seconds\": %.4f, \"ingest_bytes_per_s\": %.4g, "
      "\"raw_tls_bytes_per_s\": %.4g, \"method\": \"%d devices on one "
      "GrpcTransport (one TLS connection) send a plain Report each at once; "
      "from the first send to the last accepted Ack. Baseline: the same bytes "
      "over one in-process TLS 1.3 loopback connection, 16 KiB writes, same "
      "certificate, one run after each round; each side the best of %d\"}\n",
      ratio, n, rounds, report_bytes, seconds, ingest, raw, n, rounds);
  return 0;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  cohort::base::InitLogging(argv[0]);
  return cohort::bench::Main();
}
