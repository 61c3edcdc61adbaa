// One failover of a task led by one of two coordinators (bench/failover):
// kills the leader (SIGKILL, a kill -9), then checks in at the standby every
// 10 ms until it answers anything but a RetryWindow with cause "standby".
// Prints {"failover_ms": ..., "probes": ...} on stdout: the time from the
// kill to the standby's first answer as leader.
//
//   failover_bench --leader_pid=1234 --standby=127.0.0.1:50052
//       --ca=pki/ca.crt --population=demo [--timeout_s=120]

#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "bench/load/held_streams.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/base/files.h"

ABSL_FLAG(int, leader_pid, 0, "the leading coordinator's process id");
ABSL_FLAG(std::string, standby, "", "host:port of the standby's device API");
ABSL_FLAG(std::string, ca, "", "PEM file of the coordinators' trust root");
ABSL_FLAG(std::string, population, "", "the task's name");
ABSL_FLAG(int, timeout_s, 120, "give up after this many seconds");

namespace cohort::bench {
namespace {

// The cause of the standby's answer to one check-in: "assigned" for an
// assignment, "" for no answer.
std::string Answer(cohort::v1::Coordinator::Stub& stub,
                   const std::string& population, int n) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto stream = stub.Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id("failover-probe-" +
                                          std::to_string(n));
  hello.mutable_check_in()->set_population(population);
  cohort::v1::ServerMessage reply;
  const bool answered = stream->Write(hello) && stream->Read(&reply);
  ctx.TryCancel();
  stream->Finish();
  if (!answered) return "";
  return reply.has_task_assignment() ? "assigned"
                                     : reply.retry_window().cause();
}

int Run() {
  auto ca = base::ReadFile(absl::GetFlag(FLAGS_ca), 1 << 20);
  if (!ca.ok() || absl::GetFlag(FLAGS_leader_pid) <= 0) {
    std::fprintf(stderr, "failover_bench: need --ca and --leader_pid\n");
    return 2;
  }
  LoadOptions options;
  options.target = absl::GetFlag(FLAGS_standby);
  options.ca_pem = *ca;
  auto stub = cohort::v1::Coordinator::NewStub(OwnConnection(options));
  const std::string population = absl::GetFlag(FLAGS_population);
  if (Answer(*stub, population, 0) != "standby") {
    std::fprintf(stderr, "failover_bench: %s is not standing by\n",
                 options.target.c_str());
    return 1;
  }
  const absl::Time killed = absl::Now();
  if (::kill(absl::GetFlag(FLAGS_leader_pid), SIGKILL) != 0) {
    std::perror("failover_bench: kill");
    return 1;
  }
  const absl::Time deadline =
      killed + absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  for (int n = 1; absl::Now() < deadline; ++n) {
    const std::string answer = Answer(*stub, population, n);
    if (!answer.empty() && answer != "standby") {
      std::printf(
          "{\"failover_ms\": %.1f, \"probes\": %d, \"answer\": \"%s\"}\n",
          absl::ToDoubleMilliseconds(absl::Now() - killed), n, answer.c_str());
      return 0;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::fprintf(stderr, "failover_bench: no take-over within %d s\n",
               absl::GetFlag(FLAGS_timeout_s));
  return 1;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cohort::bench::Run();
}
