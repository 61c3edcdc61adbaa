#include "server/store/directory_format.h"

#include <zlib.h>

#include <algorithm>
#include <set>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "server/store/store_util.h"

namespace cohort::server {
namespace {

constexpr char kMetaFormat[] = "cohort-model-version-1";
constexpr char kDeviceFormat[] = "cohort-device-1";
constexpr char kReleaseFormat[] = "cohort-release-1";
constexpr char kTokenFormat[] = "cohort-enrollment-token-1";
constexpr absl::string_view kMetaKeys[] = {
    "task",          "version",      "parent",
    "round_id",      "architecture", "created_at_unix_ms",
    "weights_bytes", "weights_crc32"};
constexpr absl::string_view kReleaseKeys[] = {"task",
                                              "release",
                                              "version",
                                              "kind",
                                              "reason",
                                              "actor",
                                              "created_at_unix_ms",
                                              "signed_manifest_crc32",
                                              "signed_manifest"};
constexpr absl::string_view kDeviceKeys[] = {"device_id", "last_seen_unix_ms",
                                             "check_ins", "reports_accepted",
                                             "reports_rejected"};
constexpr absl::string_view kTokenKeys[] = {
    "token_sha256",    "device_id",  "created_unix_ms",
    "expires_unix_ms", "created_by", "used_unix_ms"};

enum class FieldResult { kOk, kBadValue, kUnknownKey };

absl::Status Corrupt(const std::string& path, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("corrupt store file ", path, ": ", why));
}

bool Unescape(absl::string_view value, std::string* out) {
  return absl::CUnescape(value, out);
}

FieldResult IntField(absl::string_view value, int64_t* out) {
  return ParseInt64(value, out) ? FieldResult::kOk : FieldResult::kBadValue;
}

FieldResult TextField(absl::string_view value, std::string* out) {
  return Unescape(value, out) ? FieldResult::kOk : FieldResult::kBadValue;
}

// "<positive number>\n", the format of CURRENT and CURRENT_RELEASE.
absl::StatusOr<int64_t> DecodePointer(absl::string_view text,
                                      const std::string& path,
                                      absl::string_view what) {
  int64_t number = 0;
  if (text.empty() || text.back() != '\n' ||
      !ParseInt64(text.substr(0, text.size() - 1), &number) || number <= 0) {
    return Corrupt(path, absl::StrCat("expected a positive ", what,
                                      " number and a newline"));
  }
  return number;
}

// Runs `handle` on each "key=value" line after the "format=" line. Every key
// in `required` must appear exactly once; `repeatable` may appear any number
// of times. Values are handed over still escaped.
absl::Status DecodeFields(
    absl::string_view text, const std::string& path, absl::string_view format,
    absl::Span<const absl::string_view> required, absl::string_view repeatable,
    absl::FunctionRef<FieldResult(absl::string_view, absl::string_view)>
        handle) {
  if (text.empty() || text.back() != '\n') {
    return Corrupt(path, "empty or truncated (no final newline)");
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines[0] != absl::StrCat("format=", format)) {
    return Corrupt(path,
                   absl::StrCat("first line is not \"format=", format, "\""));
  }
  std::set<absl::string_view> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t eq = lines[i].find('=');
    if (eq == absl::string_view::npos) {
      return Corrupt(path, absl::StrCat("line ", i + 1, " has no '='"));
    }
    absl::string_view key = lines[i].substr(0, eq);
    absl::string_view value = lines[i].substr(eq + 1);
    if (key != repeatable && !seen.insert(key).second) {
      return Corrupt(path, absl::StrCat("key \"", absl::CHexEscape(key),
                                        "\" repeats on line ", i + 1));
    }
    switch (handle(key, value)) {
      case FieldResult::kOk:
        break;
      case FieldResult::kBadValue:
        return Corrupt(
            path, absl::StrCat("bad value for \"", key, "\" on line ", i + 1));
      case FieldResult::kUnknownKey:
        return Corrupt(path,
                       absl::StrCat("unknown key \"", absl::CHexEscape(key),
                                    "\" on line ", i + 1));
    }
  }
  std::vector<absl::string_view> missing;
  for (absl::string_view key : required) {
    if (!seen.count(key)) missing.push_back(key);
  }
  if (!missing.empty()) {
    return Corrupt(path,
                   absl::StrCat("missing ", absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

// "metric=<escaped name> <value>": the value never holds a space, so the
// last space separates the two even when the name has spaces.
FieldResult DecodeMetric(absl::string_view value,
                         std::map<std::string, double>* metrics) {
  size_t space = value.rfind(' ');
  if (space == absl::string_view::npos) return FieldResult::kBadValue;
  std::string name;
  double number = 0;
  if (!Unescape(value.substr(0, space), &name) ||
      !ParseDouble(value.substr(space + 1), &number) ||
      !metrics->emplace(std::move(name), number).second) {
    return FieldResult::kBadValue;
  }
  return FieldResult::kOk;
}

// One line of a .release file; the CRC-32 goes to `crc` to be checked once
// the manifest is known.
FieldResult DecodeReleaseField(absl::string_view key, absl::string_view value,
                               ReleaseRecord* r, int64_t* crc) {
  if (key == "task") return TextField(value, &r->task);
  if (key == "reason") return TextField(value, &r->reason);
  if (key == "actor") return TextField(value, &r->actor);
  if (key == "signed_manifest") return TextField(value, &r->signed_manifest);
  if (key == "release") return IntField(value, &r->release);
  if (key == "version") return IntField(value, &r->version);
  if (key == "created_at_unix_ms") {
    return IntField(value, &r->created_at_unix_ms);
  }
  if (key == "signed_manifest_crc32") return IntField(value, crc);
  if (key == "kind") {
    return ParseReleaseKind(value, &r->kind) ? FieldResult::kOk
                                             : FieldResult::kBadValue;
  }
  return FieldResult::kUnknownKey;
}

// One line of a .token file.
FieldResult DecodeTokenField(absl::string_view key, absl::string_view value,
                             EnrollmentTokenRecord* t) {
  if (key == "token_sha256") return TextField(value, &t->token_sha256);
  if (key == "device_id") return TextField(value, &t->device_id);
  if (key == "created_by") return TextField(value, &t->created_by);
  if (key == "created_unix_ms") return IntField(value, &t->created_unix_ms);
  if (key == "expires_unix_ms") return IntField(value, &t->expires_unix_ms);
  if (key == "used_unix_ms") return IntField(value, &t->used_unix_ms);
  return FieldResult::kUnknownKey;
}

}  // namespace

uint32_t WeightsChecksum(absl::string_view data) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
  return static_cast<uint32_t>(crc);
}

std::string EncodeVersionMeta(const ModelVersionRecord& record) {
  std::string out = absl::StrCat(
      "format=", kMetaFormat, "\ntask=", absl::CEscape(record.task),
      "\nversion=", record.version, "\nparent=", record.parent,
      "\nround_id=", record.round_id,
      "\narchitecture=", absl::CEscape(record.architecture),
      "\ncreated_at_unix_ms=", record.created_at_unix_ms,
      "\nweights_bytes=", record.weights.size(),
      "\nweights_crc32=", WeightsChecksum(record.weights), "\n");
  if (record.held) absl::StrAppend(&out, "held=1\n");
  if (!record.optimizer_state.empty()) {
    absl::StrAppend(&out, "optimizer_bytes=", record.optimizer_state.size(),
                    "\noptimizer_crc32=",
                    WeightsChecksum(record.optimizer_state), "\n");
  }
  for (const auto& [name, value] : record.metrics) {
    absl::StrAppend(&out, "metric=", absl::CEscape(name), " ",
                    FormatDouble(value), "\n");
  }
  return out;
}

absl::StatusOr<VersionMeta> DecodeVersionMeta(absl::string_view text,
                                              const std::string& path) {
  VersionMeta meta;
  ModelVersionRecord& r = meta.record;
  int64_t crc = 0, optimizer_crc = 0;
  absl::Status s = DecodeFields(
      text, path, kMetaFormat, kMetaKeys, "metric",
      [&](absl::string_view key, absl::string_view value) {
        if (key == "metric") return DecodeMetric(value, &r.metrics);
        if (key == "task" || key == "architecture") {
          std::string* out = key == "task" ? &r.task : &r.architecture;
          return Unescape(value, out) ? FieldResult::kOk
                                      : FieldResult::kBadValue;
        }
        if (key == "version") return IntField(value, &r.version);
        if (key == "parent") return IntField(value, &r.parent);
        if (key == "round_id") return IntField(value, &r.round_id);
        if (key == "created_at_unix_ms") {
          return IntField(value, &r.created_at_unix_ms);
        }
        if (key == "weights_bytes") return IntField(value, &meta.weights_bytes);
        if (key == "weights_crc32") return IntField(value, &crc);
        if (key == "optimizer_bytes") {
          return IntField(value, &meta.optimizer_bytes);
        }
        if (key == "optimizer_crc32") return IntField(value, &optimizer_crc);
        if (key == "held") {
          r.held = value == "1";
          return r.held ? FieldResult::kOk : FieldResult::kBadValue;
        }
        return FieldResult::kUnknownKey;
      });
  if (!s.ok()) return s;
  if (r.parent < 0 || r.version <= r.parent) {
    return Corrupt(
        path, absl::StrCat("version ", r.version, " with parent ", r.parent));
  }
  if (meta.weights_bytes < 0 || crc < 0 || crc > 0xffffffffLL) {
    return Corrupt(path, "bad weights size or checksum");
  }
  meta.weights_crc32 = static_cast<uint32_t>(crc);
  if (meta.optimizer_bytes < 0 || optimizer_crc < 0 ||
      optimizer_crc > 0xffffffffLL) {
    return Corrupt(path, "bad optimizer state size or checksum");
  }
  meta.optimizer_crc32 = static_cast<uint32_t>(optimizer_crc);
  return meta;
}

std::string EncodeCurrent(int64_t version) {
  return absl::StrCat(version, "\n");
}

absl::StatusOr<int64_t> DecodeCurrent(absl::string_view text,
                                      const std::string& path) {
  return DecodePointer(text, path, "version");
}

std::string EncodeHeld(const std::vector<int64_t>& versions) {
  std::string out;
  for (int64_t v : versions) absl::StrAppend(&out, v, "\n");
  return out;
}

absl::StatusOr<std::vector<int64_t>> DecodeHeld(absl::string_view text,
                                                const std::string& path) {
  std::vector<int64_t> versions;
  if (!text.empty() && text.back() != '\n') {
    return Corrupt(path, "truncated (no final newline)");
  }
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    int64_t v = 0;
    if (!ParseInt64(line, &v) || v <= 0 ||
        (!versions.empty() && v <= versions.back())) {
      return Corrupt(path, "expected ascending positive version numbers");
    }
    versions.push_back(v);
  }
  return versions;
}

std::string EncodeRelease(const ReleaseRecord& record) {
  return absl::StrCat(
      "format=", kReleaseFormat, "\ntask=", absl::CEscape(record.task),
      "\nrelease=", record.release, "\nversion=", record.version,
      "\nkind=", ReleaseKindName(record.kind),
      "\nreason=", absl::CEscape(record.reason),
      "\nactor=", absl::CEscape(record.actor),
      "\ncreated_at_unix_ms=", record.created_at_unix_ms,
      "\nsigned_manifest_crc32=", WeightsChecksum(record.signed_manifest),
      "\nsigned_manifest=", absl::CEscape(record.signed_manifest), "\n");
}

absl::StatusOr<ReleaseRecord> DecodeRelease(absl::string_view text,
                                            const std::string& path) {
  ReleaseRecord r;
  int64_t crc = 0;
  absl::Status s =
      DecodeFields(text, path, kReleaseFormat, kReleaseKeys, /*repeatable=*/"",
                   [&](absl::string_view key, absl::string_view value) {
                     return DecodeReleaseField(key, value, &r, &crc);
                   });
  if (!s.ok()) return s;
  if (r.release < 1 || r.version < 1) {
    return Corrupt(
        path, absl::StrCat("release ", r.release, " of version ", r.version));
  }
  if (r.signed_manifest.empty() || crc < 0 || crc > 0xffffffffLL ||
      WeightsChecksum(r.signed_manifest) != static_cast<uint32_t>(crc)) {
    return Corrupt(path, "signed manifest is empty or fails its CRC-32");
  }
  return r;
}

std::string EncodeCurrentRelease(int64_t release) {
  return absl::StrCat(release, "\n");
}

absl::StatusOr<int64_t> DecodeCurrentRelease(absl::string_view text,
                                             const std::string& path) {
  return DecodePointer(text, path, "release");
}

std::string EncodeDevice(const DeviceRecord& device) {
  return absl::StrCat("format=", kDeviceFormat,
                      "\ndevice_id=", absl::CEscape(device.device_id),
                      "\nlast_seen_unix_ms=", device.last_seen_unix_ms,
                      "\ncheck_ins=", device.check_ins,
                      "\nreports_accepted=", device.reports_accepted,
                      "\nreports_rejected=", device.reports_rejected, "\n");
}

absl::StatusOr<DeviceRecord> DecodeDevice(absl::string_view text,
                                          const std::string& path) {
  DeviceRecord d;
  absl::Status s = DecodeFields(
      text, path, kDeviceFormat, kDeviceKeys, /*repeatable=*/"",
      [&](absl::string_view key, absl::string_view value) {
        if (key == "device_id") {
          return Unescape(value, &d.device_id) ? FieldResult::kOk
                                               : FieldResult::kBadValue;
        }
        if (key == "last_seen_unix_ms") {
          return IntField(value, &d.last_seen_unix_ms);
        }
        if (key == "check_ins") return IntField(value, &d.check_ins);
        if (key == "reports_accepted") {
          return IntField(value, &d.reports_accepted);
        }
        if (key == "reports_rejected") {
          return IntField(value, &d.reports_rejected);
        }
        return FieldResult::kUnknownKey;
      });
  if (!s.ok()) return s;
  return d;
}

std::string EncodeEnrollmentToken(const EnrollmentTokenRecord& record) {
  return absl::StrCat("format=", kTokenFormat,
                      "\ntoken_sha256=", record.token_sha256,
                      "\ndevice_id=", absl::CEscape(record.device_id),
                      "\ncreated_unix_ms=", record.created_unix_ms,
                      "\nexpires_unix_ms=", record.expires_unix_ms,
                      "\ncreated_by=", absl::CEscape(record.created_by),
                      "\nused_unix_ms=", record.used_unix_ms, "\n");
}

absl::StatusOr<EnrollmentTokenRecord> DecodeEnrollmentToken(
    absl::string_view text, const std::string& path) {
  EnrollmentTokenRecord t;
  absl::Status s =
      DecodeFields(text, path, kTokenFormat, kTokenKeys, /*repeatable=*/"",
                   [&](absl::string_view key, absl::string_view value) {
                     return DecodeTokenField(key, value, &t);
                   });
  if (!s.ok()) return s;
  // The message of a bad hash never quotes it (ValidateTokenHash).
  if (!ValidateTokenHash(t.token_sha256).ok()) {
    return Corrupt(path, "token_sha256 is not 64 lower-case hex characters");
  }
  if (t.used_unix_ms < 0) {
    return Corrupt(path, absl::StrCat("used_unix_ms ", t.used_unix_ms));
  }
  return t;
}

}  // namespace cohort::server
