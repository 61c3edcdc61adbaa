// The agent's example store, local API, enrollment and metrics_textfile
// options: defaults, values reaching the options, and refusals that name
// the field.

#include <string>

#include "client/agent/agent_options.h"
#include "client/agent/device_identity.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"

namespace cohort::client {
namespace {

using ::testing::StartsWith;

void ExpectRefusedNaming(const cohort::v1::AgentConfig& c,
                         const std::string& field) {
  const absl::Status s = ResolveAgentOptions(c).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_THAT(std::string(s.message()), StartsWith(field)) << s;
}

TEST(AgentOptionsTest, StoreApiAndEnrollmentAreOffByDefault) {
  auto o = ResolveAgentOptions(MinimalAgentConfig());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->example_store.path.empty());
  EXPECT_TRUE(o->local_api.socket_path.empty());
  EXPECT_EQ(o->local_api.max_batch, 64);
  EXPECT_FALSE(o->enrollment.enabled());
}

TEST(AgentOptionsTest, ExampleStoreFieldsReachTheOptions) {
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  c.set_population("fashion_mnist");
  c.mutable_example_store()->set_path("/var/lib/a/examples.db");
  c.mutable_example_store()->set_max_age_ms(60000);
  c.mutable_example_store()->set_max_count(10);
  c.mutable_example_store()->set_max_bytes(4096);
  c.mutable_example_store()->set_max_examples(5);
  auto o = ResolveAgentOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->example_store.population, "fashion_mnist");  // the default
  EXPECT_EQ(o->example_store.retention.max_age, absl::Minutes(1));
  EXPECT_EQ(o->example_store.retention.max_count, 10);
  EXPECT_EQ(o->example_store.retention.max_bytes, 4096);
  EXPECT_EQ(o->example_store.max_examples, 5);

  cohort::v1::AgentConfig bad = c;
  bad.mutable_example_store()->set_population("Not Valid");
  ExpectRefusedNaming(bad, "example_store.population");
  bad = c;
  bad.mutable_example_store()->set_max_count(-1);
  ExpectRefusedNaming(bad, "example_store.max_count");
  // Without a store the other fields mean nothing.
  bad = MinimalAgentConfig();
  bad.mutable_example_store()->set_max_count(10);
  ExpectRefusedNaming(bad, "example_store.max_count: needs example_store.path");
}

TEST(AgentOptionsTest, LocalApiFieldsAreCheckedAndNeedASocket) {
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  c.mutable_local_api()->set_socket_path("/run/a/local.sock");
  c.mutable_local_api()->set_int8_kernels(true);
  c.mutable_local_api()->set_max_batch(8);
  auto o = ResolveAgentOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->local_api.int8_kernels);
  EXPECT_EQ(o->local_api.max_batch, 8);
  EXPECT_EQ(o->local_api.max_add_batch, 1024);
  cohort::v1::AgentConfig bad = c;
  bad.mutable_local_api()->set_max_batch(5000);
  ExpectRefusedNaming(bad, "local_api.max_batch");
  bad = MinimalAgentConfig();
  bad.mutable_local_api()->set_int8_kernels(true);
  ExpectRefusedNaming(bad, "local_api.int8_kernels: needs local_api.socket_path");
}

TEST(AgentOptionsTest, EnrollmentKeepsTheIdentityInTheStateDirectory) {
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  c.set_state_dir("/var/lib/a");
  c.mutable_enrollment()->set_server_address("coordinator:50053");
  c.mutable_enrollment()->set_token_path("/etc/a/enroll.token");
  c.mutable_enrollment()->set_renew_before_hours(48);
  auto o = ResolveAgentOptions(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->enrollment.enabled());
  EXPECT_EQ(o->enrollment.renew_before, absl::Hours(48));
  EXPECT_EQ(o->tls.cert_path(), DeviceCertificatePath("/var/lib/a"));
  EXPECT_EQ(o->tls.key_path(), DeviceKeyPath("/var/lib/a"));

  cohort::v1::AgentConfig bad = c;
  bad.mutable_tls()->set_cert_path("/etc/a/device.crt");
  bad.mutable_tls()->set_key_path("/etc/a/device.key");
  ExpectRefusedNaming(bad, "enrollment.server_address");
  bad = c;
  bad.mutable_enrollment()->clear_token_path();
  ExpectRefusedNaming(bad, "enrollment.token_path");
  bad = c;
  bad.mutable_enrollment()->set_renew_before_hours(-1);
  ExpectRefusedNaming(bad, "enrollment.renew_before_hours");
  bad = MinimalAgentConfig();
  bad.mutable_enrollment()->set_token_path("/t");
  ExpectRefusedNaming(bad, "enrollment.token_path: needs");
}

TEST(AgentOptionsMetricsTest, TextfileNotEndingInPromIsRefusedNamingTheField) {
  for (const char* path : {"/var/lib/cohort-agent/agent.txt", "agent.prom.tmp",
                           "agentprom", "/var/lib/node_exporter/"}) {
    cohort::v1::AgentConfig c = MinimalAgentConfig();
    c.set_metrics_textfile(path);
    const absl::Status s = ResolveAgentOptions(c).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(std::string(s.message()), StartsWith("metrics_textfile"))
        << path;
  }
}

TEST(AgentOptionsMetricsTest, TextfileIsResolvedAndOffByDefault) {
  auto off = ResolveAgentOptions(MinimalAgentConfig());
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->metrics_textfile, "");
  cohort::v1::AgentConfig c = MinimalAgentConfig();
  c.set_metrics_textfile("/var/lib/cohort-agent/agent.prom");
  auto on = ResolveAgentOptions(c);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->metrics_textfile, "/var/lib/cohort-agent/agent.prom");
}

}  // namespace
}  // namespace cohort::client
