#ifndef COHORT_TESTS_INTEGRATION_CLUSTER_FIXTURE_H_
#define COHORT_TESTS_INTEGRATION_CLUSTER_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace cohort::testing {

// Runs real cohort-server and cohort-agent binaries on loopback over TLS,
// with a private PKI and synthetic data in a fresh temp directory.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // PostgreSQL DSN from COHORT_TEST_PG_DSN, or "" (the caller skips).
  static std::string PgDsn();
  // A task name unique to this test run, so tests can share a database.
  std::string UniqueTask() const;

  struct ServerOptions {
    std::string store;  // textproto for the `store` field
    std::string task = "it";
    int goal = 3;
    int max_rounds = 3;
    int64_t selection_timeout_ms = 1000;
    int64_t report_timeout_ms = 120000;
    std::string listen = "127.0.0.1:0";
    bool mtls = true;
    int64_t max_message_bytes = 0;
    std::string cert = "server";  // certificate name in the PKI dir
    std::string pki;              // default: dir_/pki
    // SecAgg+, the coordinator's default. false (here): plain FedAvg, which
    // most tests drive; a secure test sets it and its secure_aggregation
    // fields in round_extra.
    bool secure = false;
    std::string round_extra;  // more RoundConfig fields (textproto)
    // Set: buffered rounds with these BufferedConfig fields (textproto), in
    // place of over_selection and selection_timeout_ms.
    std::optional<std::string> buffered;
    std::string limits;       // ConnectionLimits fields (textproto)
    std::string extra;        // more ServerConfig fields (textproto)
    // Command words put before the binary, e.g. {"prlimit", "--nofile=512"}.
    std::vector<std::string> launcher;
  };
  // Server options with a directory store in this test's folder.
  ServerOptions DirectoryServer() const;
  std::unique_ptr<Subprocess> StartServer(const ServerOptions& o,
                                          const std::string& name);
  // Waits for the server's port file; 0 if the server died first.
  int WaitForPort(Subprocess& server, const std::string& name);
  // The port a server wrote to `path` (a port_file); 0 if there is none.
  static int PortInFile(const std::string& path);
  // Rounds a run folder's metrics.csv (`metrics_csv`) lists as committed;
  // 0 while it does not exist.
  static int CommittedRounds(const std::string& metrics_csv);
  // Optional changes to an agent's config.
  struct AgentOverrides {
    std::string ca_path;    // default: the test CA
    std::string cert_pki;   // PKI dir of the device certificate
    std::string cert_name;  // default: device-<index>
    std::string extra;      // more AgentConfig fields (textproto)
    // The fields inside `tls { }` instead of the test CA and the device's
    // certificate, e.g. only a ca_cert_path for a device that enrolls.
    std::string tls;
    // Command words put before the binary, e.g. {"env", "COHORT_KILL_AT=..."}.
    std::vector<std::string> launcher;
  };
  std::unique_ptr<Subprocess> StartAgent(int index, int port,
                                         const std::string& population,
                                         const std::string& ca_path = "");
  std::unique_ptr<Subprocess> StartAgent(int index, int port,
                                         const std::string& population,
                                         const AgentOverrides& o);

  // A raw device-API client over TLS that trusts the test CA (no client
  // certificate), for sending hand-made messages.
  std::unique_ptr<cohort::v1::Coordinator::Stub> TlsStub(int port);
  // Opens Participate on `stub`, checks in as `device_id` and waits up to
  // `timeout` for the first answer; true for an assignment or a retry window.
  static bool CheckInAnswered(cohort::v1::Coordinator::Stub& stub,
                              const std::string& device_id,
                              absl::Duration timeout);
  // The first message the coordinator sends after that check-in; nullopt
  // (logged) if none came within `timeout`.
  static std::optional<cohort::v1::ServerMessage> FirstAnswer(
      cohort::v1::Coordinator::Stub& stub, const std::string& device_id,
      absl::Duration timeout);

  std::string dir_;
  std::string data_dir_;
  std::string pki_dir_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_INTEGRATION_CLUSTER_FIXTURE_H_
