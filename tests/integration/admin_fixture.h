#ifndef COHORT_TESTS_INTEGRATION_ADMIN_FIXTURE_H_
#define COHORT_TESTS_INTEGRATION_ADMIN_FIXTURE_H_

// The fixture of the admin API's end-to-end tests (admin_test.cc,
// admin_ops_test.cc): a real cohort-server with signing and its admin port,
// `cohortctl` as an operator runs it, and direct admin API clients.

#include <signal.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/agent/release_guard.h"
#include "cohort/v1/admin.grpc.pb.h"
#include "common/base/files.h"
#include "common/crypto/hex.h"
#include "grpcpp/grpcpp.h"
#include "server/store/store.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/testing/test_keys.h"

namespace cohort::testing {

class AdminTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    // What `cohortctl keys generate` and `certify` write.
    Write(dir_ + "/root-1.pb", keys_.Root().SerializeAsString());
    Write(dir_ + "/release-key.seed", crypto::BytesToHex(keys_.release.seed()));
    Write(dir_ + "/release-key.cert.pb",
          keys_.Certificate().SerializeAsString());
  }

  static void Write(const std::string& path, const std::string& bytes) {
    ASSERT_TRUE(base::WriteFileAtomically(path, bytes).ok()) << path;
  }

  std::string AdminConfig() const {
    return absl::StrCat("admin { listen_address: \"127.0.0.1:0\" port_file: \"",
                        dir_, "/admin.port\" }");
  }

  std::string SigningConfig() const {
    return absl::StrCat("signing { release_key_path: \"", dir_,
                        "/release-key.seed\" certificate_path: \"", dir_,
                        "/release-key.cert.pb\" }");
  }

  // The admin port; the server writes its file before the device port's,
  // so call this after WaitForPort. 0 if there is none.
  int AdminPort() const { return PortInFile(dir_ + "/admin.port"); }

  AgentOverrides Pinned() const {
    AgentOverrides o;
    o.extra = absl::StrCat("trust { root_path: \"", dir_, "/root-1.pb\" }");
    return o;
  }

  // The highest release agent `index` has accepted; 0 before the first.
  int64_t Held(int index) const {
    auto text = base::ReadFile(
        absl::StrCat(dir_, "/device-", index, "-state/release"), 64);
    int64_t release = 0;
    if (!text.ok() ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &release)) {
      return 0;
    }
    return release;
  }

  // Runs `cohortctl <args>` against the admin port with certificate `cert`
  // of the test PKI; returns its exit code (-1 on timeout) and its output.
  int Cohortctl(std::vector<std::string> args, int admin_port,
                const std::string& cert, std::string* log) {
    std::vector<std::string> argv = {BinaryPath("cohortctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(absl::StrCat("--admin_address=127.0.0.1:", admin_port));
    argv.push_back(absl::StrCat("--ca_cert=", pki_dir_, "/ca.crt"));
    argv.push_back(absl::StrCat("--cert=", pki_dir_, "/", cert, ".crt"));
    argv.push_back(absl::StrCat("--key=", pki_dir_, "/", cert, ".key"));
    Subprocess ctl(argv, absl::StrCat(dir_, "/cohortctl-", ++runs_, ".log"));
    const std::optional<int> code = ctl.Wait(absl::Minutes(3));
    *log = ctl.Log();
    return code.value_or(-1);
  }

  // Polls `done` every 200 ms until it holds or `limit` passes.
  static bool PollUntil(absl::Duration limit,
                        const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + limit;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return true;
  }

  // The rollback `cohortctl` made, from the store's release log: above
  // every release before it (`last_before` is the newest of those), with
  // the operator as actor, publishing a new version that holds version 1's
  // weights byte for byte. Later rounds may have released more since.
  static void FindRollback(server::Store& store, const std::string& task,
                           const server::ReleaseRecord& last_before,
                           server::ReleaseRecord* rollback) {
    auto releases = store.ListReleases(task);
    ASSERT_TRUE(releases.ok()) << releases.status();
    bool found = false;
    for (const server::ReleaseRecord& r : *releases) {
      if (r.kind != server::ReleaseRecord::Kind::kRollback) continue;
      *rollback = r;
      found = true;
    }
    ASSERT_TRUE(found) << "no rollback in the release log";
    EXPECT_GT(rollback->release, last_before.release);
    EXPECT_EQ(rollback->actor, "operator:operator");
    EXPECT_NE(rollback->reason.find("test"), std::string::npos)
        << rollback->reason;
    auto current = store.GetCurrentRelease(task);
    ASSERT_TRUE(current.ok() && current->has_value());
    EXPECT_GE((*current)->release, rollback->release);
    if ((*current)->release == rollback->release) {
      EXPECT_EQ((*current)->kind, server::ReleaseRecord::Kind::kRollback);
    }
    auto v1 = store.GetVersion(task, 1);
    auto rolled = store.GetVersion(task, rollback->version);
    ASSERT_TRUE(v1.ok() && rolled.ok());
    EXPECT_GT(rollback->version, last_before.version);
    EXPECT_EQ(rolled->weights, v1->weights);
  }

  // A replay of `old` (an assignment carrying its manifest) is refused by
  // device 0, which holds a higher release, and accepted by a device that
  // holds none, so the refusal is the downgrade check's.
  void ExpectReplayRefused(const std::string& task,
                           const server::ReleaseRecord& old) const {
    const cohort::v1::ModelRef replay = ReplayOf(old);
    const std::string root = dir_ + "/root-1.pb";
    auto device = client::ReleaseGuard::Open(root, dir_ + "/device-0-state");
    ASSERT_TRUE(device.ok()) << device.status();
    auto refused = (*device)->Check(replay, task, absl::Now());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
        << refused.status();
    auto fresh = client::ReleaseGuard::Open(root, dir_ + "/fresh-state");
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    auto accepted = (*fresh)->Check(replay, task, absl::Now());
    EXPECT_TRUE(accepted.ok()) << accepted.status();
  }

  // SIGTERM to every agent and the server; the server must exit 0.
  static void StopCluster(Subprocess& server,
                          std::vector<std::unique_ptr<Subprocess>>& agents) {
    for (auto& a : agents) a->Signal(SIGTERM);
    server.Signal(SIGTERM);
    for (auto& a : agents) ASSERT_TRUE(a->Wait(absl::Seconds(30)).has_value());
    auto code = server.Wait(absl::Seconds(30));
    ASSERT_TRUE(code.has_value()) << server.Log();
    EXPECT_EQ(*code, 0) << server.Log();
  }

  // A release's manifest as an assignment would carry it: the replay an
  // attacker on the network could send.
  static cohort::v1::ModelRef ReplayOf(const server::ReleaseRecord& release) {
    cohort::v1::ModelRef ref;
    EXPECT_TRUE(
        ref.mutable_manifest()->ParseFromString(release.signed_manifest));
    cohort::v1::ModelManifest m;
    EXPECT_TRUE(m.ParseFromString(ref.manifest().manifest()));
    EXPECT_GT(m.artifacts_size(), 0);
    ref.set_version(m.version());
    ref.set_architecture(m.architecture());
    if (m.artifacts_size() > 0) {
      ref.set_sha256(m.artifacts(0).sha256());
      ref.set_size_bytes(m.artifacts(0).size_bytes());
    }
    return ref;
  }

  // An admin API client with certificate `cert` of the test PKI.
  std::unique_ptr<cohort::v1::Admin::Stub> AdminStub(
      int admin_port, const std::string& cert) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = base::ReadFile(pki_dir_ + "/ca.crt").value_or("");
    ssl.pem_cert_chain =
        base::ReadFile(absl::StrCat(pki_dir_, "/", cert, ".crt")).value_or("");
    ssl.pem_private_key =
        base::ReadFile(absl::StrCat(pki_dir_, "/", cert, ".key")).value_or("");
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return cohort::v1::Admin::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", admin_port), grpc::SslCredentials(ssl),
        args));
  }

  // One call of `rpc` on `stub`, with a deadline past any engine wait.
  template <typename Request, typename Response>
  static grpc::Status Call(cohort::v1::Admin::Stub& stub,
                           grpc::Status (cohort::v1::Admin::Stub::*rpc)(
                               grpc::ClientContext*, const Request&, Response*),
                           const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(3)));
    return (stub.*rpc)(&context, request, response);
  }

  TestKeys keys_;
  int runs_ = 0;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_INTEGRATION_ADMIN_FIXTURE_H_
