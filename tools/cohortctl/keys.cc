#include "tools/cohortctl/keys.h"

#include <filesystem>
#include <regex>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cohort/v1/model.pb.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/hex.h"
#include "common/model/signing.h"
#include "common/model/trust.h"

namespace cohort::tools {
namespace {

using crypto::Ed25519PrivateKey;

constexpr int kSecretMode = 0600;

std::string RootPath(const std::string& dir, int64_t version) {
  return absl::StrCat(dir, "/root-", version, ".pb");
}

std::string SeedPath(const std::string& dir, int64_t version, int index) {
  return absl::StrCat(dir, "/root-", version, "-key-", index, ".seed");
}

absl::Status CheckSpec(const RootSpec& spec) {
  if (spec.threshold < 1 || spec.threshold > spec.keys ||
      spec.keys > model::kMaxSignatures || spec.valid_for <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need 1 <= threshold <= keys <= ", model::kMaxSignatures,
        " and a positive validity; got ", spec.threshold, " of ", spec.keys));
  }
  return absl::OkStatus();
}

// The highest N with a root-N.pb in `dir`; 0 if none.
int64_t LatestRootVersion(const std::string& dir) {
  static const std::regex kName(R"(root-([0-9]{1,9})\.pb)");
  int64_t latest = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, kName)) {
      latest = std::max<int64_t>(latest, std::stoll(m[1].str()));
    }
  }
  return latest;
}

absl::Status WriteSeed(const std::string& path, const Ed25519PrivateKey& key) {
  return base::WriteFileAtomically(path, crypto::BytesToHex(key.seed()),
                                   kSecretMode);
}

absl::StatusOr<Ed25519PrivateKey> ReadSeed(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string hex, base::ReadFile(path, 1024));
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  auto seed = crypto::HexToBytes(hex);
  if (!seed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a hex seed"));
  }
  return Ed25519PrivateKey::FromSeed(*seed);
}

absl::StatusOr<std::vector<Ed25519PrivateKey>> NewKeys(
    int n, crypto::SecureRandom& random) {
  std::vector<Ed25519PrivateKey> keys;
  for (int i = 0; i < n; ++i) {
    COHORT_ASSIGN_OR_RETURN(Ed25519PrivateKey k,
                            Ed25519PrivateKey::Generate(random));
    keys.push_back(k);
  }
  return keys;
}

cohort::v1::RootMetadata MakeRoot(int64_t version,
                                  const std::vector<Ed25519PrivateKey>& keys,
                                  const RootSpec& spec, absl::Time now) {
  cohort::v1::RootMetadata root;
  root.set_version(version);
  for (const auto& k : keys) {
    root.add_keys(std::string(k.PublicKey().bytes().begin(),
                              k.PublicKey().bytes().end()));
  }
  root.set_threshold(spec.threshold);
  root.set_expires_at_unix_ms(absl::ToUnixMillis(now + spec.valid_for));
  for (const std::string& id : spec.revoke) root.add_revoked_key_ids(id);
  return root;
}

// The current root's metadata and the key files of it present in `dir`;
// FAILED_PRECONDITION if they do not meet its threshold.
struct LoadedRoot {
  cohort::v1::SignedRoot signed_root;
  cohort::v1::RootMetadata metadata;
  std::vector<Ed25519PrivateKey> keys;
};

absl::StatusOr<LoadedRoot> LoadCurrentRoot(const std::string& dir) {
  const int64_t version = LatestRootVersion(dir);
  if (version == 0) {
    return absl::NotFoundError(absl::StrCat(
        dir, " holds no root-N.pb: run `cohortctl keys generate` first"));
  }
  LoadedRoot r;
  COHORT_ASSIGN_OR_RETURN(std::string bytes,
                          base::ReadFile(RootPath(dir, version), model::kMaxMetadataBytes));
  if (!r.signed_root.ParseFromString(bytes) ||
      !r.metadata.ParseFromString(r.signed_root.root())) {
    return absl::DataLossError(RootPath(dir, version) + " is not a SignedRoot");
  }
  for (int i = 1; i <= r.metadata.keys_size(); ++i) {
    auto key = ReadSeed(SeedPath(dir, version, i));
    if (key.status().code() == absl::StatusCode::kNotFound) continue;
    if (!key.ok()) return key.status();
    r.keys.push_back(*key);
  }
  if (static_cast<int>(r.keys.size()) < r.metadata.threshold()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "root ", version, " needs ", r.metadata.threshold(), " key files in ",
        dir, ", found ", r.keys.size()));
  }
  return r;
}

// Writes root `version` and its new keys' seed files.
absl::StatusOr<KeysReport> WriteRoot(const std::string& dir, int64_t version,
                                     const cohort::v1::SignedRoot& signed_root,
                                     const std::vector<Ed25519PrivateKey>& keys) {
  KeysReport report;
  report.root_version = version;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string path = SeedPath(dir, version, static_cast<int>(i) + 1);
    COHORT_RETURN_IF_ERROR(WriteSeed(path, keys[i]));
    report.files.push_back(path);
    report.key_ids.push_back(model::KeyId(keys[i].PublicKey()));
  }
  // The root last: a crash before it leaves no half-made root behind.
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      RootPath(dir, version), signed_root.SerializeAsString()));
  report.files.push_back(RootPath(dir, version));
  return report;
}

}  // namespace

absl::StatusOr<KeysReport> GenerateRoot(const std::string& root_dir,
                                        const RootSpec& spec,
                                        crypto::SecureRandom& random,
                                        absl::Time now) {
  COHORT_RETURN_IF_ERROR(CheckSpec(spec));
  COHORT_RETURN_IF_ERROR(base::MakeDirs(root_dir));
  if (LatestRootVersion(root_dir) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        root_dir, " already holds a root; use `cohortctl keys rotate`"));
  }
  COHORT_ASSIGN_OR_RETURN(auto keys, NewKeys(spec.keys, random));
  const auto root = MakeRoot(1, keys, spec, now);
  return WriteRoot(root_dir, 1, model::SignRoot(root, keys), keys);
}

absl::StatusOr<KeysReport> RotateRoot(const std::string& root_dir,
                                      const RootSpec& spec,
                                      crypto::SecureRandom& random,
                                      absl::Time now) {
  COHORT_RETURN_IF_ERROR(CheckSpec(spec));
  COHORT_ASSIGN_OR_RETURN(LoadedRoot old, LoadCurrentRoot(root_dir));
  COHORT_ASSIGN_OR_RETURN(auto keys, NewKeys(spec.keys, random));
  const int64_t version = old.metadata.version() + 1;
  std::vector<Ed25519PrivateKey> signers = old.keys;
  signers.insert(signers.end(), keys.begin(), keys.end());
  const cohort::v1::SignedRoot next =
      model::SignRoot(MakeRoot(version, keys, spec, now), signers);
  // Checked as a device will check it before anything is written.
  COHORT_ASSIGN_OR_RETURN(model::TrustedRoot trusted,
                          model::TrustedRoot::FromPinned(old.signed_root));
  COHORT_RETURN_IF_ERROR(trusted.Rotate(next));
  return WriteRoot(root_dir, version, next, keys);
}

absl::StatusOr<KeysReport> CertifyReleaseKey(const std::string& root_dir,
                                             const std::string& out_dir,
                                             absl::Duration valid_for,
                                             crypto::SecureRandom& random,
                                             absl::Time now) {
  if (valid_for <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the validity must be positive");
  }
  COHORT_ASSIGN_OR_RETURN(LoadedRoot root, LoadCurrentRoot(root_dir));
  COHORT_ASSIGN_OR_RETURN(auto keys, NewKeys(1, random));
  cohort::v1::ReleaseKeyCertificate cert;
  cert.set_key(std::string(keys[0].PublicKey().bytes().begin(),
                           keys[0].PublicKey().bytes().end()));
  cert.set_root_version(root.metadata.version());
  cert.set_expires_at_unix_ms(absl::ToUnixMillis(now + valid_for));
  const auto certified = model::CertifyReleaseKey(cert, root.keys);
  COHORT_RETURN_IF_ERROR(base::MakeDirs(out_dir));
  KeysReport report;
  report.root_version = root.metadata.version();
  report.key_ids.push_back(model::KeyId(keys[0].PublicKey()));
  report.files = {out_dir + "/release-key.seed", out_dir + "/release-key.cert.pb"};
  COHORT_RETURN_IF_ERROR(WriteSeed(report.files[0], keys[0]));
  COHORT_RETURN_IF_ERROR(base::WriteFileAtomically(
      report.files[1], certified.SerializeAsString()));
  return report;
}

std::string FormatKeysReport(const KeysReport& r, bool json) {
  if (json) {
    auto quoted = [](const std::vector<std::string>& v) {
      return absl::StrCat("[\"", absl::StrJoin(v, "\", \""), "\"]");
    };
    return absl::StrFormat(
        "{\"root_version\": %d, \"key_ids\": %s, \"files\": %s}\n",
        r.root_version, quoted(r.key_ids), quoted(r.files));
  }
  std::string out = absl::StrFormat("root version  %d\n", r.root_version);
  for (const auto& id : r.key_ids) absl::StrAppend(&out, "new key id    ", id, "\n");
  for (const auto& f : r.files) absl::StrAppend(&out, "wrote         ", f, "\n");
  return out;
}

}  // namespace cohort::tools
