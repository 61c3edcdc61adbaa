#include "server/api/server_options.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/textproto.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

absl::StatusOr<ServerOptions> Resolve(const std::string& text) {
  cohort::v1::ServerConfig c;
  absl::Status parsed = base::ParseTextProto(text, &c);
  if (!parsed.ok()) return parsed;
  return ResolveServerOptions(c, /*descriptor_limit=*/int64_t{1} << 20);
}

void ExpectRefusedNaming(const std::string& text, const std::string& field) {
  auto o = Resolve(text);
  ASSERT_FALSE(o.ok()) << text;
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(o.status().message(), field)) << o.status();
}

TEST(ServerOptionsTest, EmptyConfigGetsTheMemberDefaults) {
  auto o = Resolve("");
  ASSERT_TRUE(o.ok()) << o.status();
  const ServerOptions d;
  EXPECT_EQ(o->listen_address, d.listen_address);
  EXPECT_EQ(o->store.backend, StoreOptions::Backend::kDirectory);
  EXPECT_EQ(o->store.directory, "cohort-state");
  EXPECT_EQ(o->architecture, "small_cnn");
  EXPECT_EQ(o->seed, 1u);
  EXPECT_EQ(o->round.task, "fashion_mnist");
  EXPECT_EQ(o->holdout_dir, data::kDefaultFashionMnistDir);
  EXPECT_EQ(o->holdout_examples, 0);
  EXPECT_EQ(o->max_message_bytes, kDefaultMaxMessageBytes);
  EXPECT_EQ(o->limits.max_connections, FrontDoorOptions().max_connections);
}

TEST(ServerOptionsTest, CoordinationNeedsPostgresAndBoundedLease) {
  auto alone = Resolve("");
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_FALSE(alone->coordination.enabled);
  const std::string pg = "store { backend: POSTGRES postgres_dsn: 'x' } ";
  auto defaults = Resolve(pg + "coordination {}");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_TRUE(defaults->coordination.enabled);
  EXPECT_EQ(defaults->coordination.lease, absl::Seconds(10));
  EXPECT_TRUE(absl::StrContains(defaults->coordination.holder, ":"))
      << defaults->coordination.holder;
  auto set = Resolve(pg + "coordination { lease_ms: 3000 holder: 'a' }");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->coordination.lease, absl::Seconds(3));
  EXPECT_EQ(set->coordination.renew_every(), absl::Seconds(1));
  EXPECT_EQ(set->coordination.holder, "a");
  // A leader frozen mid-commit holds its locks for half a lease at most.
  EXPECT_EQ(set->store.postgres_idle_in_transaction_timeout,
            absl::Milliseconds(1500));
  EXPECT_EQ(defaults->store.postgres_idle_in_transaction_timeout,
            absl::Seconds(5));
  EXPECT_EQ(alone->store.postgres_idle_in_transaction_timeout,
            absl::ZeroDuration());
  ExpectRefusedNaming("coordination { lease_ms: 3000 }",
                      "coordination.lease_ms");
  ExpectRefusedNaming("coordination {}", "coordination");
  ExpectRefusedNaming(pg + "coordination { lease_ms: 499 }",
                      "coordination.lease_ms");
  ExpectRefusedNaming(pg + "coordination { lease_ms: 600001 }",
                      "coordination.lease_ms");
  ExpectRefusedNaming(
      pg + "coordination { holder: '" + std::string(257, 'h') + "' }",
      "coordination.holder");
}

TEST(ServerOptionsTest, SetFieldsReachTheOptions) {
  auto o = Resolve(
      "listen_address: '0.0.0.0:1' seed: 7 task: 't' architecture: 'mlp' "
      "holdout { idx_dir: '/d' max_examples: 5 } max_message_bytes: 1000 "
      "store { backend: POSTGRES postgres_dsn: 'dbname=x' } "
      "limits { keepalive_ms: 7000 }");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->listen_address, "0.0.0.0:1");
  EXPECT_EQ(o->seed, 7u);
  EXPECT_EQ(o->round.task, "t");
  EXPECT_EQ(o->architecture, "mlp");
  EXPECT_EQ(o->holdout_dir, "/d");
  EXPECT_EQ(o->holdout_examples, 5);
  EXPECT_EQ(o->max_message_bytes, 1000);
  EXPECT_EQ(o->store.backend, StoreOptions::Backend::kPostgres);
  EXPECT_EQ(o->store.postgres_dsn, "dbname=x");
  EXPECT_EQ(o->limits.keepalive, absl::Seconds(7));
}

TEST(ServerOptionsTest, StatementTimeoutDefaultsToAMinuteAndReachesTheOptions) {
  auto defaults = Resolve("store { backend: POSTGRES postgres_dsn: 'x' }");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->store.postgres_statement_timeout, absl::Seconds(60));
  auto set = Resolve(
      "store { backend: POSTGRES postgres_dsn: 'x' "
      "postgres_statement_timeout_ms: 2500 }");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->store.postgres_statement_timeout, absl::Milliseconds(2500));
}

TEST(ServerOptionsTest, CallTimeoutFollowsTheStatementTimeoutUnlessSet) {
  auto defaults = Resolve("store { backend: POSTGRES postgres_dsn: 'x' }");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->store.postgres_call_timeout, absl::Seconds(130));
  auto derived = Resolve(
      "store { backend: POSTGRES postgres_dsn: 'x' "
      "postgres_statement_timeout_ms: 2500 }");
  ASSERT_TRUE(derived.ok()) << derived.status();
  EXPECT_EQ(derived->store.postgres_call_timeout, absl::Seconds(15));
  auto set = Resolve(
      "store { backend: POSTGRES postgres_dsn: 'x' "
      "postgres_statement_timeout_ms: 2500 postgres_call_timeout_ms: 4000 }");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->store.postgres_call_timeout, absl::Seconds(4));
}

TEST(ServerOptionsTest, TorchScriptModuleClearsTheZooArchitecture) {
  auto o = Resolve("torchscript_path: '/m.pt' architecture: 'mlp'");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->architecture, "");
  EXPECT_EQ(o->torchscript_path, "/m.pt");
}

TEST(ServerOptionsTest, BadValuesAreRefusedNamingTheField) {
  ExpectRefusedNaming("holdout { use_test_split: true }",
                      "holdout.use_test_split");
  ExpectRefusedNaming("holdout { max_examples: -1 }", "holdout.max_examples");
  ExpectRefusedNaming("store { backend: POSTGRES }", "store.postgres_dsn");
  ExpectRefusedNaming(
      "store { backend: POSTGRES postgres_dsn: 'x' "
      "postgres_statement_timeout_ms: -1 }",
      "store.postgres_statement_timeout_ms");
  ExpectRefusedNaming(
      "store { backend: POSTGRES postgres_dsn: 'x' "
      "postgres_call_timeout_ms: -1 }",
      "store.postgres_call_timeout_ms");
  // A call timeout below the statement timeout would close the connection
  // before PostgreSQL could cancel a slow statement.
  ExpectRefusedNaming(
      "store { backend: POSTGRES postgres_dsn: 'x' "
      "postgres_statement_timeout_ms: 5000 postgres_call_timeout_ms: 4000 }",
      "store.postgres_call_timeout_ms");
  ExpectRefusedNaming("max_message_bytes: -1", "max_message_bytes");
  ExpectRefusedNaming("round { goal_count: -1 }", "round.goal_count");
  // max_buffered_bytes must hold two messages of max_message_bytes.
  ExpectRefusedNaming(
      "max_message_bytes: 1000 limits { max_buffered_bytes: 1000 }",
      "limits.max_buffered_bytes");
}

TEST(ServerOptionsTest, AdminIsOffByDefaultAndAdmitsTheOperator) {
  auto o = Resolve("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->admin.enabled());
  EXPECT_EQ(o->admin.allowed_subjects, std::vector<std::string>{"operator"});
}

TEST(ServerOptionsTest, AdminFieldsReachTheOptions) {
  auto o = Resolve(
      "tls { ca_cert_path: '/ca.crt' } "
      "admin { listen_address: '127.0.0.1:0' port_file: '/p' "
      "allowed_subjects: 'alice' allowed_subjects: 'bob' }");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->admin.enabled());
  EXPECT_EQ(o->admin.listen_address, "127.0.0.1:0");
  EXPECT_EQ(o->admin.port_file, "/p");
  EXPECT_EQ(o->admin.allowed_subjects,
            (std::vector<std::string>{"alice", "bob"}));
}

TEST(ServerOptionsTest, AdminWithoutClientCertificatesIsRefused) {
  auto o = Resolve("admin { listen_address: '127.0.0.1:0' }");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(),
            "admin.listen_address: needs tls.ca_cert_path: the admin API only "
            "admits operator certificates");
  ExpectRefusedNaming(
      "tls { ca_cert_path: '/ca' } admin { listen_address: 'x' }",
      "admin.listen_address");
  ExpectRefusedNaming("admin { port_file: '/p' }", "admin.port_file");
  ExpectRefusedNaming("admin { allowed_subjects: 'alice' }",
                      "admin.allowed_subjects");
  ExpectRefusedNaming(
      "tls { ca_cert_path: '/ca' } "
      "admin { listen_address: ':0' allowed_subjects: '' }",
      "admin.allowed_subjects");
}

TEST(ServerOptionsTest, EnrollmentNeedsTheFleetCaAndTheAdminPort) {
  const std::string base =
      "tls { ca_cert_path: '/ca' } admin { listen_address: ':0' } ";
  auto o = Resolve(base +
                   "enrollment { listen_address: ':0' port_file: '/e.port' "
                   "ca_key_path: '/ca.key' certificate_validity_days: 7 }");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->enrollment.enabled());
  EXPECT_EQ(o->enrollment.ca_key_path, "/ca.key");
  EXPECT_EQ(o->enrollment.port_file, "/e.port");
  EXPECT_EQ(o->enrollment.certificate_validity, absl::Hours(24 * 7));
  auto defaults =
      Resolve(base + "enrollment { listen_address: ':0' ca_key_path: '/k' }");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->enrollment.certificate_validity, absl::Hours(24 * 90));
  EXPECT_FALSE(Resolve("")->enrollment.enabled());

  ExpectRefusedNaming(
      "admin { listen_address: ':0' } enrollment { listen_address: ':0' "
      "ca_key_path: '/k' }",
      "admin.listen_address");  // admin itself needs the CA first
  ExpectRefusedNaming(
      "tls { ca_cert_path: '/ca' } enrollment { listen_address: ':0' "
      "ca_key_path: '/k' }",
      "enrollment.listen_address");
  ExpectRefusedNaming(base + "enrollment { listen_address: ':0' }",
                      "enrollment.ca_key_path");
  ExpectRefusedNaming(base +
                          "enrollment { listen_address: ':0' "
                          "ca_key_path: '/k' certificate_validity_days: "
                          "3651 }",
                      "enrollment.certificate_validity_days");
  ExpectRefusedNaming("enrollment { ca_key_path: '/k' }",
                      "enrollment.ca_key_path");
  ExpectRefusedNaming("enrollment { port_file: '/p' }", "enrollment.port_file");
}

TEST(ServerOptionsTest, MetricsAreOffByDefault) {
  auto o = Resolve("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->metrics.enabled());
  EXPECT_EQ(o->metrics.port_file, "");
}

TEST(ServerOptionsTest, MetricsFieldsReachTheOptions) {
  auto o =
      Resolve("metrics { listen_address: '0.0.0.0:9464' port_file: '/m' }");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->metrics.enabled());
  EXPECT_EQ(o->metrics.listen_address, "0.0.0.0:9464");
  EXPECT_EQ(o->metrics.port_file, "/m");
}

TEST(ServerOptionsTest, MetricsAddressThatIsNotHostPortIsRefused) {
  for (const char* address : {"x", "localhost", "127.0.0.1:70000"}) {
    ExpectRefusedNaming(
        absl::StrCat("metrics { listen_address: '", address, "' }"),
        "metrics.listen_address");
  }
  ExpectRefusedNaming("metrics { port_file: '/m' }", "metrics.port_file");
  // Names, IPv6 and every interface are addresses the port can bind.
  for (const char* address : {"localhost:9464", "[::1]:0", ":9464"}) {
    auto o =
        Resolve(absl::StrCat("metrics { listen_address: '", address, "' }"));
    EXPECT_TRUE(o.ok()) << address << ": " << o.status();
  }
}

}  // namespace
}  // namespace cohort::server
