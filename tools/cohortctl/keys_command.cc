#include "tools/cohortctl/keys_command.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/crypto/secure_random.h"
#include "tools/cohortctl/keys.h"

ABSL_FLAG(std::string, root_dir, "",
          "keys: directory of the offline root (root-N.pb and root key "
          "files); never give it to the coordinator.");
ABSL_FLAG(int, keys, 3, "keys generate|rotate: root keys in the new root.");
ABSL_FLAG(int, threshold, 2,
          "keys generate|rotate: root signatures needed (k of --keys).");
ABSL_FLAG(int, valid_days, 0,
          "keys: days until the new root (default 365) or release key "
          "certificate (default 90) expires.");
ABSL_FLAG(std::string, revoke, "",
          "keys rotate: comma-separated key ids the new root revokes.");

namespace cohort::tools {
namespace {

absl::Duration Days(int days, int fallback) {
  return absl::Hours(24 * (days > 0 ? days : fallback));
}

RootSpec SpecFromFlags() {
  RootSpec spec;
  spec.keys = absl::GetFlag(FLAGS_keys);
  spec.threshold = absl::GetFlag(FLAGS_threshold);
  spec.valid_for = Days(absl::GetFlag(FLAGS_valid_days), 365);
  for (absl::string_view id :
       absl::StrSplit(absl::GetFlag(FLAGS_revoke), ',', absl::SkipEmpty())) {
    spec.revoke.emplace_back(id);
  }
  return spec;
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "cohortctl: %s\n"
               "  cohortctl keys generate --root_dir=DIR [--keys=3 --threshold=2]\n"
               "  cohortctl keys rotate --root_dir=DIR [--keys=3 --threshold=2 "
               "--revoke=ID,...]\n"
               "  cohortctl keys certify --root_dir=DIR --out=DIR [--valid_days=90]\n",
               why);
  return 2;
}

}  // namespace

int RunKeysCommand(const std::string& subcommand, const std::string& out_dir,
                   bool json) {
  const std::string root_dir = absl::GetFlag(FLAGS_root_dir);
  if (root_dir.empty()) return Usage("--root_dir is required");
  crypto::OpenSslRandom random;
  const absl::Time now = absl::Now();
  absl::StatusOr<KeysReport> report;
  if (subcommand == "generate") {
    report = GenerateRoot(root_dir, SpecFromFlags(), random, now);
  } else if (subcommand == "rotate") {
    report = RotateRoot(root_dir, SpecFromFlags(), random, now);
  } else if (subcommand == "certify") {
    if (out_dir.empty()) return Usage("keys certify needs --out");
    report = CertifyReleaseKey(root_dir, out_dir,
                               Days(absl::GetFlag(FLAGS_valid_days), 90),
                               random, now);
  } else {
    return Usage("unknown keys command");
  }
  if (!report.ok()) {
    std::fprintf(stderr, "cohortctl: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::fputs(FormatKeysReport(*report, json).c_str(), stdout);
  return 0;
}

}  // namespace cohort::tools
