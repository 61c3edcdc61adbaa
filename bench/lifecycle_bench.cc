// lifecycle_bench: the cost of signed releases, against OpenSSL's own
// Ed25519 numbers measured in the same run, and the bytes delta downloads
// save against full artifacts.
//
//   build/bin/lifecycle_bench [--out=docs/bench/lifecycle.json]
//       [--delta_rounds=8] [--delta_run_dir=runs/latest]
//       [--rollback_rounds=11] [--poisoned_round=10]
//
// Measures, per release of a small_cnn-sized manifest (two artifacts,
// metrics): the coordinator's signing (ReleaseSigner::Sign) and a device's
// full check (model::VerifyManifest: the 2-of-3 root certificate of the
// release key, then the manifest's signature, then its fields). The
// baseline is `openssl speed -seconds 1 ed25519`: a device check does three
// Ed25519 verifications, so its ideal cost is 3 / (openssl verify/s).
//
// Deltas (lifecycle_bench_delta.cc): for each pair of consecutive committed
// versions of the demo scenario, the bytes a device holding the first
// downloads for the second (the delta when smaller, else the full artifact)
// over the full artifact's bytes; delta_bytes_vs_full is the mean over pairs
// for the int8 artifact (the default). The versions come from a fresh
// --delta_rounds run of --demo_config (early rounds only: about 40 s), or
// from a finished run folder (--delta_run_dir, e.g. runs/latest after
// ./scripts/demo, all of its rounds).
//
// Automatic rollback (lifecycle_bench_rollback.cc): --rollback_rounds
// rounds of --demo_config with field monitoring on, in which every device of
// --poisoned_round sends -20 times its update; rounds_to_auto_rollback is
// how many rounds later the coordinator rolled back by itself.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/lifecycle_bench.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"
#include "common/model/trust.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, out, "", "Write the results as JSON here.");
ABSL_FLAG(int, iterations, 2000, "Releases signed and verified per case.");
ABSL_FLAG(int, delta_rounds, 8,
          "Rounds of --demo_config run for the delta figures; 0 skips them "
          "(unless --delta_run_dir is set).");
ABSL_FLAG(std::string, demo_config, "configs/sim/demo.textproto",
          "Scenario run for the delta figures.");
ABSL_FLAG(int, rollback_rounds, 11,
          "Rounds of the poisoned --demo_config run for "
          "rounds_to_auto_rollback; 0 skips it.");
ABSL_FLAG(int, poisoned_round, 10, "The poisoned round of that run.");
ABSL_FLAG(std::string, delta_run_dir, "",
          "A finished cohort-sim run folder whose committed versions give the "
          "delta figures instead of a fresh run.");

namespace cohort {
namespace {

crypto::Ed25519PrivateKey Key(uint8_t b) {
  return *crypto::Ed25519PrivateKey::FromSeed(std::vector<uint8_t>(32, b));
}

std::string Raw(const crypto::Ed25519PrivateKey& k) {
  return std::string(k.PublicKey().bytes().begin(), k.PublicKey().bytes().end());
}

cohort::v1::ModelManifest Manifest(absl::Time now) {
  cohort::v1::ModelManifest m;
  m.set_task("fashion_mnist");
  m.set_version(42);
  m.set_parent(41);
  m.set_release(42);
  m.set_round_id(41);
  m.set_architecture("small_cnn");
  m.set_architecture_sha256(crypto::Sha256Hex("small_cnn"));
  m.set_expires_at_unix_ms(absl::ToUnixMillis(now + absl::Hours(720)));
  for (const char* k : {"test_accuracy", "test_loss", "train_loss", "participants"}) {
    (*m.mutable_metrics())[k] = 0.5;
  }
  for (const char* kind : {"int8", "fp32"}) {
    auto* a = m.add_artifacts();
    a->set_kind(kind);
    a->set_sha256(crypto::Sha256Hex(kind));
    a->set_size_bytes(190000);
  }
  return m;
}

// `openssl speed -seconds 1 ed25519`: verifications per second.
double OpensslVerifiesPerSecond() {
  FILE* p = ::popen("openssl speed -seconds 1 ed25519 2>/dev/null", "r");
  CHECK(p != nullptr) << "popen openssl";
  char line[512];
  double sign_rate = 0, verify_rate = 0;
  while (std::fgets(line, sizeof(line), p) != nullptr) {
    double s, v, sr, vr;
    if (std::sscanf(line, " 253 bits EdDSA (Ed25519) %lfs %lfs %lf %lf", &s,
                    &v, &sr, &vr) == 4) {
      sign_rate = sr;
      verify_rate = vr;
    }
  }
  CHECK(::pclose(p) == 0 && verify_rate > 0 && sign_rate > 0)
      << "openssl speed ed25519 failed";
  return verify_rate;
}

// Prints the delta figures; returns them as JSON fields (each ",\n  ...").
std::string DeltaJson(const bench::DeltaFigures& f) {
  std::printf("deltas over %d consecutive versions of %s:\n", f.pairs,
              f.source.c_str());
  std::printf("  int8: %.3f of the full artifact on average (%lld of %lld "
              "bytes), %.3f for the last pair\n",
              f.mean_ratio_int8, static_cast<long long>(f.mean_delta_bytes_int8),
              static_cast<long long>(f.full_bytes_int8), f.last_ratio_int8);
  std::printf("  fp32: %.3f of the full artifact on average\n",
              f.mean_ratio_fp32);
  std::printf("  int8 encode %.2f ms, apply %.2f ms per pair\n",
              f.encode_ms_int8, f.apply_ms_int8);
  return absl::StrFormat(
      ",\n  \"delta_bytes_vs_full\": %.4f,\n"
      "  \"delta_bytes_vs_full_fp32\": %.4f,\n"
      "  \"delta_last_pair_vs_full\": %.4f,\n"
      "  \"delta_pairs\": %d,\n  \"delta_source\": \"%s\",\n"
      "  \"delta_int8_artifact_bytes\": %d,\n"
      "  \"delta_mean_bytes\": %d,\n"
      "  \"delta_encode_ms\": %.3f,\n  \"delta_apply_ms\": %.3f",
      f.mean_ratio_int8, f.mean_ratio_fp32, f.last_ratio_int8, f.pairs,
      f.source, f.full_bytes_int8, f.mean_delta_bytes_int8, f.encode_ms_int8,
      f.apply_ms_int8);
}

// Prints the automatic-rollback figures; returns them as JSON fields.
std::string RollbackJson(const bench::RollbackFigures& f) {
  std::printf("poisoned round %d: field accuracy %.4f -> %.4f over %lld "
              "reports, holdout %.4f -> %.4f -> %.4f after rollback; "
              "rolled back %d round(s) later\n",
              f.poisoned_round, f.field_accuracy_before,
              f.field_accuracy_poisoned, static_cast<long long>(f.field_reports),
              f.holdout_before, f.holdout_poisoned, f.holdout_after,
              f.rounds_to_auto_rollback);
  return absl::StrFormat(
      ",\n  \"rounds_to_auto_rollback\": %d,\n"
      "  \"auto_rollback_field_accuracy_before\": %.4f,\n"
      "  \"auto_rollback_field_accuracy_poisoned\": %.4f,\n"
      "  \"auto_rollback_field_reports\": %d,\n"
      "  \"auto_rollback_holdout_poisoned\": %.4f,\n"
      "  \"auto_rollback_holdout_after\": %.4f",
      f.rounds_to_auto_rollback, f.field_accuracy_before,
      f.field_accuracy_poisoned, static_cast<int>(f.field_reports),
      f.holdout_poisoned, f.holdout_after);
}

template <typename Fn>
double MsPerCall(int n, Fn&& fn) {
  const absl::Time t0 = absl::Now();
  for (int i = 0; i < n; ++i) fn();
  return absl::ToDoubleMilliseconds(absl::Now() - t0) / n;
}

std::string SigningFigures(double sign_ms, double verify_ms,
                           double openssl_verify_ms, size_t manifest_bytes);

// Signs and verifies --iterations releases against `openssl speed`; prints
// the figures and returns the JSON object's opening fields.
std::string SigningJson() {
  const absl::Time now = absl::Now();
  const std::vector<crypto::Ed25519PrivateKey> roots = {Key(1), Key(2), Key(3)};
  const crypto::Ed25519PrivateKey release = Key(10);
  cohort::v1::RootMetadata root;
  root.set_version(1);
  for (const auto& k : roots) root.add_keys(Raw(k));
  root.set_threshold(2);
  root.set_expires_at_unix_ms(absl::ToUnixMillis(now + absl::Hours(8760)));
  cohort::v1::ReleaseKeyCertificate cert;
  cert.set_key(Raw(release));
  cert.set_root_version(1);
  cert.set_expires_at_unix_ms(root.expires_at_unix_ms());
  const auto certified = model::CertifyReleaseKey(cert, {roots[0], roots[1]});
  auto trusted = model::TrustedRoot::FromPinned(model::SignRoot(root, roots));
  CHECK(trusted.ok()) << trusted.status();
  const cohort::v1::ModelManifest manifest = Manifest(now);
  const int n = absl::GetFlag(FLAGS_iterations);

  const double openssl_before = OpensslVerifiesPerSecond();
  cohort::v1::SignedManifest signed_manifest;
  const double sign_ms = MsPerCall(n, [&] {
    signed_manifest = model::SignManifest(manifest, release, certified);
  });
  const model::ManifestExpectations expect{"fashion_mnist", 42, now};
  const double verify_ms = MsPerCall(n, [&] {
    CHECK(model::VerifyManifest(*trusted, signed_manifest, expect).ok());
  });
  const double openssl_after = OpensslVerifiesPerSecond();
  const double openssl_verify_ms = 1000.0 / std::max(openssl_before, openssl_after);

  return SigningFigures(sign_ms, verify_ms, openssl_verify_ms,
                        signed_manifest.ByteSizeLong());
}

// Prints the signing figures; returns the JSON object's opening fields.
std::string SigningFigures(double sign_ms, double verify_ms,
                           double openssl_verify_ms, size_t manifest_bytes) {
  const double ratio = verify_ms / (3 * openssl_verify_ms);
  std::printf("sign   %.4f ms per release\n", sign_ms);
  std::printf("verify %.4f ms per release (3 Ed25519 verifications)\n", verify_ms);
  std::printf("openssl speed ed25519: %.4f ms per verification (best of before/after)\n",
              openssl_verify_ms);
  std::printf("verify / (3 x openssl verify) = %.3f\n", ratio);
  std::printf("signed manifest: %zu bytes\n", manifest_bytes);
  return absl::StrFormat(
      "{\n  \"sign_ms_per_release\": %.4f,\n  \"verify_ms_per_release\": %.4f,\n"
      "  \"openssl_ed25519_verify_ms\": %.4f,\n"
      "  \"verify_vs_3_openssl_verifies\": %.3f,\n"
      "  \"signed_manifest_bytes\": %d",
      sign_ms, verify_ms, openssl_verify_ms, ratio,
      static_cast<int>(manifest_bytes));
}

int Run() {
  std::string json = SigningJson();
  const bench::DeltaSource source{absl::GetFlag(FLAGS_demo_config),
                                  absl::GetFlag(FLAGS_delta_rounds),
                                  absl::GetFlag(FLAGS_delta_run_dir)};
  if (source.rounds > 0 || !source.run_dir.empty()) {
    json += DeltaJson(bench::MeasureDeltas(source));
  }
  if (absl::GetFlag(FLAGS_rollback_rounds) > 0) {
    json += RollbackJson(bench::MeasureAutoRollback(
        {absl::GetFlag(FLAGS_demo_config), absl::GetFlag(FLAGS_rollback_rounds),
         absl::GetFlag(FLAGS_poisoned_round)}));
  }
  json += "\n}\n";
  if (!absl::GetFlag(FLAGS_out).empty()) {
    CHECK(base::WriteFileAtomically(absl::GetFlag(FLAGS_out), json).ok());
  }
  return 0;
}

}  // namespace
}  // namespace cohort

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  cohort::base::InitLogging(argv[0]);
  return cohort::Run();
}
