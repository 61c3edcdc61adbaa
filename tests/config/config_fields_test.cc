// Every config field has one default, one resolver and a reader (STYLE.md).
//
// This test walks the descriptors of every message reachable from
// ServerConfig, SimConfig and AgentConfig and, for each leaf field, sets it
// to a few non-default values on a valid base config and resolves it with
// the binary's one resolver (ResolveServerOptions, ResolveSimOptions,
// ResolveAgentOptions). A field counts as read when some value changes the
// resolved options (compared through Describe*, which prints every member)
// or is refused with an error naming the field's path. A field that does
// neither is accepted and ignored: the test fails and names it, unless
// kNotApplicable lists it with a reason. New fields are checked the day they
// are added; a member added to an options struct but not to Describe* shows
// up as an unread field, never as a false pass. The last test shows the
// check failing on a resolver that drops a field.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/agent/agent_options.h"
#include "cohort/v1/config.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "server/api/server_options.h"
#include "sim/sim_options.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// ---------------------------------------------------------------------------
// Describing resolved options. Each function prints every member.

std::string Describe(absl::Duration d) { return absl::FormatDuration(d); }

void DescribeRound(const server::RoundOptions& r, std::ostringstream& out) {
  const server::SecAggOptions& s = r.secagg;
  out << "task=" << r.task << " goal=" << r.goal_count
      << " over=" << r.over_selection << " min=" << r.min_reports
      << " sel=" << Describe(r.selection_timeout)
      << " rep=" << Describe(r.report_timeout)
      << " retry=" << Describe(r.retry_min) << "," << Describe(r.retry_max)
      << " max_rounds=" << r.max_rounds
      << " max_ex=" << r.max_examples_per_report
      << " opt=" << static_cast<int>(r.server_optimizer.kind)
      << " mom=" << r.server_optimizer.momentum
      << " lr=" << r.server_optimizer.learning_rate
      << " beta1=" << r.server_optimizer.beta1
      << " beta2=" << r.server_optimizer.beta2
      << " tau=" << r.server_optimizer.tau << " plan={"
      << r.plan.ShortDebugString() << "}"
      << " personal={" << absl::StrJoin(r.personal.entries(), ",") << "}"
      << " int8=" << r.int8_artifacts << " secagg={" << s.enabled << ","
      << s.bits_per_coordinate << "," << s.rotate << "," << s.example_cap << ","
      << s.expected_dropout << "," << s.corrupt_fraction << ","
      << Describe(s.phase_timeout) << "," << s.max_group_size << "}"
      << " clip={" << r.clipping.clip_norm << "," << r.clipping.adaptive << ","
      << r.clipping.target_quantile << "," << r.clipping.learning_rate << ","
      << r.clipping.min_clip_norm << "," << r.clipping.max_clip_norm << "}";
  if (r.robust.has_value()) {
    out << " robust={" << static_cast<int>(r.robust->rule) << ","
        << r.robust->trim_fraction << "," << r.robust->byzantine_devices << ","
        << r.robust->krum_selected << "}";
  }
  if (r.buffered.has_value()) {
    out << " buffered={" << r.buffered->concurrency << ","
        << r.buffered->max_staleness << "," << r.buffered->staleness_exponent
        << "}";
  }
  const server::PrivacyOptions& p = r.privacy;
  out << " dp={" << p.enabled << "," << p.noise_multiplier << ","
      << p.update_noise_multiplier << "," << p.clipped_count_stddev << ","
      << p.target_epsilon.value_or(-1) << "," << p.delta << ","
      << p.sampling_rate << "," << p.noise_seed.value_or(0) << "}";
  out << " gate=" << r.gate_max_accuracy_drop.value_or(-1) << " field={"
      << r.field_min_reports << "," << r.field_max_accuracy_drop << "}";
}

void DescribeLimits(const server::FrontDoorOptions& l,
                    std::ostringstream& out) {
  out << " limits={" << l.max_connections << "," << l.max_unauthenticated << ","
      << Describe(l.handshake_timeout) << "," << Describe(l.keepalive) << ","
      << Describe(l.min_client_keepalive) << "," << l.max_buffered_bytes << ","
      << Describe(l.check_in_timeout) << "," << Describe(l.report_grace) << ","
      << l.check_in.per_second << "," << l.check_in.burst << "}";
}

std::string DescribeServer(const server::ServerOptions& o) {
  std::ostringstream out;
  out.precision(17);
  out << "listen=" << o.listen_address << " port_file=" << o.port_file
      << " tls={" << o.tls.ShortDebugString() << "} store={"
      << static_cast<int>(o.store.backend) << "," << o.store.directory << ","
      << o.store.postgres_dsn << ","
      << Describe(o.store.postgres_statement_timeout) << ","
      << Describe(o.store.postgres_call_timeout) << ","
      << Describe(o.store.postgres_idle_in_transaction_timeout)
      << "} arch=" << o.architecture << " ts=" << o.torchscript_path
      << " seed=" << o.seed << " holdout=" << o.holdout_dir << ","
      << o.holdout_examples << " max_msg=" << o.max_message_bytes
      << " run_dir=" << o.run_dir << " ";
  DescribeRound(o.round, out);
  DescribeLimits(o.limits, out);
  out << " signing={" << o.signing.release_key_path << ","
      << o.signing.certificate_path << "," << Describe(o.signing.manifest_ttl)
      << ",[" << absl::StrJoin(o.signing.root_paths, ",") << "]}";
  out << " admin={" << o.admin.listen_address << "," << o.admin.port_file
      << ",[" << absl::StrJoin(o.admin.allowed_subjects, ",") << "]}";
  out << " metrics={" << o.metrics.listen_address << "," << o.metrics.port_file
      << "}";
  out << " enrollment={" << o.enrollment.listen_address << ","
      << o.enrollment.port_file << "," << o.enrollment.ca_key_path << ","
      << Describe(o.enrollment.certificate_validity) << "}";
  out << " coordination={" << o.coordination.enabled << ","
      << Describe(o.coordination.lease) << "," << o.coordination.holder << "}";
  return out.str();
}

std::string DescribeSim(const sim::SimOptions& o) {
  const data::PopulationSpec& p = o.population;
  std::ostringstream out;
  out.precision(17);
  out << "name=" << o.name << " out=" << o.output_dir
      << " arch=" << o.architecture << " ts=" << o.torchscript_path
      << " cpr=" << o.clients_per_round << " rounds=" << o.rounds
      << " seed=" << o.seed << " threads=" << o.threads << " data=" << o.idx_dir
      << "," << o.train_examples << "," << o.holdout_examples
      << " max_msg=" << o.max_message_bytes << " grpc_tls={"
      << o.grpc_tls.ShortDebugString() << "} population={" << p.num_clients
      << "," << static_cast<int>(p.layout) << "," << static_cast<int>(p.scheme)
      << "," << p.alpha << "," << p.labels_per_client << "," << p.mean_examples
      << "," << p.quantity_sigma << "," << p.min_examples << ","
      << p.max_examples << "," << p.seed << "} devices={"
      << o.devices.ShortDebugString() << "} poison={" << o.poison.round << ","
      << o.poison.rounds << "," << o.poison.fraction << "," << o.poison.scale
      << "} local_test=" << o.local_test_fraction << " ";
  DescribeRound(o.round, out);
  return out.str();
}

std::string DescribeAgent(const client::AgentOptions& o) {
  const data::PartitionSpec& p = o.partition;
  const data::PartitionFieldNames& n = p.fields;
  std::ostringstream out;
  out.precision(17);
  out << "server=" << o.server_address << " tls={" << o.tls.ShortDebugString()
      << "} name=" << o.server_name_override << " device=" << o.device_id
      << " population=" << o.population << " data=" << o.idx_dir << ","
      << o.use_test_split << "," << o.max_examples << " partition={"
      << static_cast<int>(p.scheme) << "," << p.num_shards << "," << p.alpha
      << "," << p.seed << "," << p.min_examples << "," << p.max_draws << ","
      << n.scheme << "," << n.num_shards << "," << n.alpha << ","
      << n.min_examples << "} shard=" << o.shard_index
      << " state=" << o.state_dir << " threads=" << o.num_threads
      << " backoff=" << Describe(o.backoff_initial) << ","
      << Describe(o.backoff_max) << " max_rounds=" << o.max_rounds
      << " keepalive=" << Describe(o.keepalive)
      << " field_report_interval=" << Describe(o.field_report_interval)
      << " root=" << o.trusted_root_path
      << " metrics_textfile=" << o.metrics_textfile;
  const client::EligibilityOptions& e = o.eligibility;
  out << " eligibility={" << e.require_ac_power << "," << e.min_battery_percent
      << "," << e.max_load_average << "," << e.max_temperature_c << ","
      << e.window_start_minute << "," << e.window_end_minute << ","
      << e.min_new_examples << "," << Describe(e.recheck_interval) << ","
      << Describe(e.training_check_interval) << "}";
  const client::BudgetOptions& b = o.budgets;
  out << " budgets={" << b.max_training_threads << ","
      << Describe(b.max_round_time) << "," << b.max_rounds_per_day << ","
      << b.max_upload_bytes_per_day << "," << b.max_download_bytes_per_day
      << "," << b.max_resident_mib << "}";
  const client::ExampleStoreOptions& x = o.example_store;
  out << " example_store={" << x.path << "," << x.population << ","
      << x.max_examples << "," << Describe(x.retention.max_age) << ","
      << x.retention.max_count << "," << x.retention.max_bytes << "}";
  const client::LocalApiOptions& l = o.local_api;
  out << " local_api={" << l.socket_path << "," << l.int8_kernels << ","
      << l.max_batch << "," << l.max_add_batch << "}";
  out << " enrollment={" << o.enrollment.server_address << ","
      << o.enrollment.token_path << "," << Describe(o.enrollment.renew_before)
      << "}";
  return out.str();
}

// ---------------------------------------------------------------------------
// Walking and perturbing fields.

// Paths of the scalar fields under `d`, e.g. "round.secure_aggregation.rotate",
// repeated scalars (e.g. "admin.allowed_subjects") included: CandidatesFor
// sets those to one value.
void CollectLeaves(const Descriptor* d, const std::string& prefix,
                   std::vector<std::string>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string path = prefix + std::string(f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !f->is_repeated()) {
      CollectLeaves(f->message_type(), path + ".", out);
    } else {
      out->push_back(path);
    }
  }
}

std::vector<std::string> LeavesOf(const Descriptor* d) {
  std::vector<std::string> leaves;
  CollectLeaves(d, "", &leaves);
  return leaves;
}

using Setter = std::function<void(Message*, const FieldDescriptor*)>;
using google::protobuf::Reflection;

// Setters of `values` through Reflection's `set` (SetInt32, SetString, ...)
// for a singular field, or `add` (AddInt32, AddString, ...) for a repeated
// one: the field then holds the one value. Set* on a repeated field is a
// fatal error in protobuf.
template <typename T>
std::vector<Setter> Values(
    const std::vector<T>& values,
    void (Reflection::*set)(Message*, const FieldDescriptor*, T) const,
    void (Reflection::*add)(Message*, const FieldDescriptor*, T) const) {
  std::vector<Setter> out;
  for (const T& v : values) {
    out.push_back([v, set, add](Message* m, const FieldDescriptor* f) {
      const Reflection* r = m->GetReflection();
      if (f->is_repeated()) {
        r->ClearField(m, f);
        (r->*add)(m, f, v);
      } else {
        (r->*set)(m, f, v);
      }
    });
  }
  return out;
}

// Non-default values to try: small and large, valid and invalid, so that at
// least one passes each resolver's range check.
std::vector<Setter> CandidatesFor(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return Values<int32_t>({1, 3, 7, 1000, -1}, &Reflection::SetInt32,
                             &Reflection::AddInt32);
    case FieldDescriptor::CPPTYPE_INT64:
      return Values<int64_t>({1, 3, 7, 1000, 100000, int64_t{1} << 30, -1},
                             &Reflection::SetInt64, &Reflection::AddInt64);
    case FieldDescriptor::CPPTYPE_UINT32:
      return Values<uint32_t>({1, 7}, &Reflection::SetUInt32,
                              &Reflection::AddUInt32);
    case FieldDescriptor::CPPTYPE_UINT64:
      return Values<uint64_t>({1, 7}, &Reflection::SetUInt64,
                              &Reflection::AddUInt64);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Values<double>({0.5, 1.5, 2.0, -1.0}, &Reflection::SetDouble,
                            &Reflection::AddDouble);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Values<float>({0.5f, 1.5f, 2.0f, -1.0f}, &Reflection::SetFloat,
                           &Reflection::AddFloat);
    case FieldDescriptor::CPPTYPE_BOOL:
      // false too: a field with presence (secure_aggregation.enabled) is
      // read when it is set to false.
      return Values<bool>({true, false}, &Reflection::SetBool,
                          &Reflection::AddBool);
    case FieldDescriptor::CPPTYPE_STRING:
      return Values<std::string>({"x", "mlp"}, &Reflection::SetString,
                                 &Reflection::AddString);
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::vector<int> numbers;
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        const int v = f->enum_type()->value(i)->number();
        if (v != 0) numbers.push_back(v);
      }
      return Values<int>(numbers, &Reflection::SetEnumValue,
                         &Reflection::AddEnumValue);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;  // repeated messages: none in the configs yet
  }
  return {};
}

// The message holding the last field of `path` inside `root`, and that field.
std::pair<Message*, const FieldDescriptor*> Locate(Message* root,
                                                   const std::string& path) {
  Message* m = root;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot - start);
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) return {nullptr, nullptr};
    if (dot == std::string::npos) return {m, f};
    m = m->GetReflection()->MutableMessage(m, f);
    start = dot + 1;
  }
}

// Resolves a config and describes the options, or returns the error.
template <typename Config>
using Resolver = std::function<absl::StatusOr<std::string>(const Config&)>;

// Whether some candidate value of `path` changes what `resolve` gives for
// `base`, or is refused with an error naming `path`.
template <typename Config>
bool IsRead(const Config& base, const std::string& base_described,
            const std::string& path, const Resolver<Config>& resolve) {
  Config probe = base;
  const FieldDescriptor* field = Locate(&probe, path).second;
  if (field == nullptr) return false;
  for (const Setter& set : CandidatesFor(field)) {
    Config c = base;
    auto [m, f] = Locate(&c, path);
    set(m, f);
    absl::StatusOr<std::string> got = resolve(c);
    if (got.ok() ? *got != base_described
                 : got.status().message().find(path) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The leaf paths of Config that `resolve` does not read.
template <typename Config>
std::vector<std::string> UnreadFields(const Config& base,
                                      const Resolver<Config>& resolve) {
  absl::StatusOr<std::string> described = resolve(base);
  EXPECT_TRUE(described.ok())
      << "the base config must resolve: " << described.status();
  if (!described.ok()) return {};
  std::vector<std::string> unread;
  for (const std::string& path : LeavesOf(Config::descriptor())) {
    if (!IsRead(base, *described, path, resolve)) unread.push_back(path);
  }
  return unread;
}

// Fields a binary accepts without reading, each with its reason. Empty
// today: a field that does not apply is refused by the resolver instead
// (holdout.use_test_split, the simulator's data.use_test_split and
// round.goal_count / round.max_rounds), which counts as read.
const std::map<std::string, std::string>& NotApplicable(
    const std::string& config) {
  static const auto* server = new std::map<std::string, std::string>{};
  static const auto* sim = new std::map<std::string, std::string>{};
  static const auto* agent = new std::map<std::string, std::string>{};
  if (config == "ServerConfig") return *server;
  if (config == "AgentConfig") return *agent;
  return *sim;
}

template <typename Config>
void ExpectEveryFieldRead(const Config& base, const Resolver<Config>& resolve) {
  const std::string name(Config::descriptor()->name());
  const auto& exempt = NotApplicable(name);
  const std::vector<std::string> leaves = LeavesOf(Config::descriptor());
  const std::set<std::string> unread = [&] {
    auto v = UnreadFields(base, resolve);
    return std::set<std::string>(v.begin(), v.end());
  }();
  for (const std::string& path : unread) {
    EXPECT_TRUE(exempt.contains(path))
        << name << "." << path << " is accepted but changes nothing the "
        << "resolver returns: read it in the resolver (and document its "
        << "default), refuse it, or reserve it in config.proto";
  }
  for (const auto& [path, why] : exempt) {
    EXPECT_TRUE(unread.contains(path))
        << name << "." << path << " is listed as not applicable (" << why
        << ") but is read or does not exist: remove it from the list";
  }
  EXPECT_GT(leaves.size(), 20u)
      << name << ": the descriptor walk found too little";
}

Resolver<cohort::v1::ServerConfig> ServerResolver() {
  return [](const cohort::v1::ServerConfig& c) -> absl::StatusOr<std::string> {
    // A descriptor limit high enough never to lower max_connections.
    auto o = server::ResolveServerOptions(c, int64_t{1} << 24);
    if (!o.ok()) return o.status();
    return DescribeServer(*o);
  };
}

Resolver<cohort::v1::SimConfig> SimResolver() {
  return [](const cohort::v1::SimConfig& c) -> absl::StatusOr<std::string> {
    auto o = sim::ResolveSimOptions(c);
    if (!o.ok()) return o.status();
    return DescribeSim(*o);
  };
}

Resolver<cohort::v1::AgentConfig> AgentResolver() {
  return [](const cohort::v1::AgentConfig& c) -> absl::StatusOr<std::string> {
    auto o = client::ResolveAgentOptions(c);
    if (!o.ok()) return o.status();
    return DescribeAgent(*o);
  };
}

// A valid agent config: the two required fields. The resolver reads no
// files, so the CA path need not exist.
cohort::v1::AgentConfig AgentBase() {
  cohort::v1::AgentConfig c;
  c.set_device_id("d1");
  c.mutable_tls()->set_ca_cert_path("ca.pem");
  return c;
}

class ConfigFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = ::testing::TempDir() + "/config_fields_data";
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(data_dir_, 50, 20, 1));
  }

  // A valid scenario: 100 clients, 10 a round, the synthetic data set.
  cohort::v1::SimConfig SimBase() const {
    cohort::v1::SimConfig c;
    c.mutable_population()->set_num_clients(100);
    c.set_clients_per_round(10);
    c.mutable_data()->set_idx_dir(data_dir_);
    return c;
  }

  std::string data_dir_;
};

TEST_F(ConfigFieldsTest, EveryServerConfigFieldIsRead) {
  ExpectEveryFieldRead(cohort::v1::ServerConfig(), ServerResolver());
}

// coordination.* applies only with a PostgreSQL store; on the default
// directory store it is refused, so it is checked again where it is read.
TEST_F(ConfigFieldsTest, EveryServerConfigFieldIsReadOnPostgresWithLeases) {
  cohort::v1::ServerConfig base;
  base.mutable_store()->set_backend(cohort::v1::StoreConfig::POSTGRES);
  base.mutable_store()->set_postgres_dsn("host=/nonexistent");
  base.mutable_coordination();
  ExpectEveryFieldRead(base, ServerResolver());
}

TEST_F(ConfigFieldsTest, EverySimConfigFieldIsRead) {
  ExpectEveryFieldRead(SimBase(), SimResolver());
}

TEST_F(ConfigFieldsTest, EveryAgentConfigFieldIsRead) {
  ExpectEveryFieldRead(AgentBase(), AgentResolver());
}

// The check can fail: a resolver that drops data.max_examples (as the
// simulator once did) is caught, and only that field is.
TEST_F(ConfigFieldsTest, ResolverThatIgnoresAFieldIsCaught) {
  const Resolver<cohort::v1::SimConfig> real = SimResolver();
  const Resolver<cohort::v1::SimConfig> lossy =
      [real](const cohort::v1::SimConfig& c) {
        cohort::v1::SimConfig copy = c;
        copy.mutable_data()->clear_max_examples();
        return real(copy);
      };
  EXPECT_EQ(UnreadFields(SimBase(), lossy),
            std::vector<std::string>{"data.max_examples"});
}

}  // namespace
}  // namespace cohort
