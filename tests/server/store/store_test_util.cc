#include "tests/server/store/store_test_util.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "server/store/postgres_store.h"

namespace cohort::server::store_testing {
namespace {

std::string PercentEncode(absl::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

class DirectoryBackend final : public StoreBackend {
 public:
  DirectoryBackend() : root_(MakeTempDir("store") + "/root") {}
  absl::StatusOr<std::unique_ptr<Store>> Open() override {
    auto store = DirectoryStore::Open(root_);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }

 private:
  std::string root_;
};

class PostgresBackend final : public StoreBackend {
 public:
  explicit PostgresBackend(std::unique_ptr<ScratchSchema> schema)
      : schema_(std::move(schema)) {}
  absl::StatusOr<std::unique_ptr<Store>> Open() override {
    auto store = PostgresStore::Connect(schema_->dsn());
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }

 private:
  std::unique_ptr<ScratchSchema> schema_;
};

}  // namespace

std::optional<std::string> TestPgDsn() {
  const char* dsn = std::getenv(kPgDsnEnv);
  if (dsn == nullptr || *dsn == '\0') return std::nullopt;
  return std::string(dsn);
}

std::string PgSkipMessage() {
  return absl::StrCat(
      kPgDsnEnv, " is not set, skipping PostgreSQL. To run: export ", kPgDsnEnv,
      "=\"$(scripts/test-postgres start /tmp/cohort-pg)\"");
}

std::string UniqueName(absl::string_view prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return absl::StrFormat("%s_%d_%d_%08x", prefix, ::getpid(), counter++, salt);
}

std::string MakeTempDir(absl::string_view prefix) {
  std::string pattern =
      absl::StrCat(::testing::TempDir(), "/", prefix, "_XXXXXX");
  CHECK(::mkdtemp(pattern.data()) != nullptr) << "mkdtemp " << pattern;
  return pattern;
}

std::string AppendDsnOption(const std::string& dsn, absl::string_view key,
                            absl::string_view value) {
  if (absl::StartsWith(dsn, "postgres://") ||
      absl::StartsWith(dsn, "postgresql://")) {
    const char* separator = absl::StrContains(dsn, "?") ? "&" : "?";
    return absl::StrCat(dsn, separator, key, "=", PercentEncode(value));
  }
  std::string quoted =
      absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"'", "\\'"}});
  return absl::StrCat(dsn, " ", key, "='", quoted, "'");
}

std::string DsnValue(const std::string& dsn, absl::string_view key) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  PQfreemem(error);
  std::string value;
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr;
       ++o) {
    if (key == o->keyword && o->val != nullptr) value = o->val;
  }
  PQconninfoFree(options);
  return value;
}

ScratchSchema::ScratchSchema(std::string base_dsn, std::string name)
    : base_dsn_(std::move(base_dsn)),
      name_(std::move(name)),
      dsn_(AppendDsnOption(base_dsn_, "options",
                           absl::StrCat("-c search_path=", name_))) {}

absl::StatusOr<std::unique_ptr<ScratchSchema>> ScratchSchema::Create(
    const std::string& base_dsn) {
  std::unique_ptr<ScratchSchema> schema(
      new ScratchSchema(base_dsn, UniqueName("cohort_test")));
  absl::Status s = schema->Exec(absl::StrCat("CREATE SCHEMA ", schema->name_));
  if (!s.ok()) return s;
  return schema;
}

ScratchSchema::~ScratchSchema() {
  absl::Status s = Exec(absl::StrCat("DROP SCHEMA ", name_, " CASCADE"));
  if (!s.ok()) LOG(WARNING) << "cannot drop test schema " << name_ << ": " << s;
}

absl::Status ScratchSchema::Exec(const std::string& sql,
                                 std::string* first_value) const {
  try {
    pqxx::connection conn(base_dsn_);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages TO warning");
    txn.exec(absl::StrCat("SET search_path TO ", name_));
    pqxx::result r = txn.exec(sql);
    txn.commit();
    if (first_value != nullptr) {
      *first_value = r.empty() || r.columns() == 0 ? "" : r[0][0].c_str();
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("test SQL \"", sql, "\": ", e.what()));
  }
}

ModelVersionRecord MakeTestRecord(absl::string_view task, int64_t version,
                                  int64_t parent, std::string weights) {
  ModelVersionRecord r;
  r.task = std::string(task);
  r.version = version;
  r.parent = parent;
  r.round_id = version * 10;
  r.architecture = "mlp-784-128-10";
  r.created_at_unix_ms = 1'700'000'000'000 + version;
  r.metrics = {{"accuracy", 0.5 + version / 100.0}, {"loss", 1.0 / version}};
  r.weights = weights.empty() ? absl::StrCat("weights-", version) : weights;
  return r;
}

bool SameDouble(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

void ExpectSameRecord(const ModelVersionRecord& got,
                      const ModelVersionRecord& want, bool with_weights) {
  EXPECT_EQ(got.task, want.task);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.parent, want.parent);
  EXPECT_EQ(got.round_id, want.round_id);
  EXPECT_EQ(got.architecture, want.architecture);
  EXPECT_EQ(got.created_at_unix_ms, want.created_at_unix_ms);
  EXPECT_EQ(got.held, want.held);
  EXPECT_EQ(got.lease_epoch, want.lease_epoch);
  EXPECT_EQ(got.metrics.size(), want.metrics.size());
  for (const auto& [name, value] : want.metrics) {
    auto it = got.metrics.find(name);
    if (it == got.metrics.end()) {
      ADD_FAILURE() << "missing metric \"" << name << "\"";
      continue;
    }
    EXPECT_TRUE(SameDouble(it->second, value))
        << name << ": got " << it->second << " want " << value;
  }
  if (with_weights) {
    EXPECT_TRUE(got.weights == want.weights)
        << "weights differ: " << got.weights.size() << " vs "
        << want.weights.size() << " bytes";
  } else {
    EXPECT_TRUE(got.weights.empty());
  }
}

ReleaseRecord MakeTestRelease(absl::string_view task, int64_t release,
                              int64_t version) {
  ReleaseRecord r;
  r.task = std::string(task);
  r.release = release;
  r.version = version;
  r.kind = ReleaseRecord::Kind::kPromote;
  r.reason = absl::StrCat("holdout gate passed for release ", release);
  r.actor = "gate";
  r.created_at_unix_ms = 1'700'000'100'000 + release;
  r.signed_manifest = absl::StrCat(std::string("\x0a\x00\xff", 3), "manifest-",
                                   release, std::string("\x00\x80\xfe\xff", 4));
  return r;
}

void ExpectSameRelease(const ReleaseRecord& got, const ReleaseRecord& want) {
  EXPECT_EQ(got.task, want.task);
  EXPECT_EQ(got.release, want.release);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(static_cast<int>(got.kind), static_cast<int>(want.kind));
  EXPECT_EQ(got.reason, want.reason);
  EXPECT_EQ(got.actor, want.actor);
  EXPECT_EQ(got.lease_epoch, want.lease_epoch);
  EXPECT_EQ(got.created_at_unix_ms, want.created_at_unix_ms);
  EXPECT_TRUE(got.signed_manifest == want.signed_manifest)
      << "signed manifests differ: \"" << absl::CHexEscape(got.signed_manifest)
      << "\" vs \"" << absl::CHexEscape(want.signed_manifest) << "\"";
}

std::unique_ptr<StoreBackend> MakeDirectoryBackend() {
  return std::make_unique<DirectoryBackend>();
}

absl::StatusOr<std::unique_ptr<StoreBackend>> MakePostgresBackend(
    const std::string& base_dsn) {
  auto schema = ScratchSchema::Create(base_dsn);
  if (!schema.ok()) return schema.status();
  return std::unique_ptr<StoreBackend>(
      std::make_unique<PostgresBackend>(std::move(*schema)));
}

}  // namespace cohort::server::store_testing
