// Benchmarks of SecAgg+ (issue 4; docs/BENCHMARKS.md, docs/bench/secagg.json).
// Every ratio is measured in one run of this binary against a baseline run
// in the same process or as its child:
//   mask expansion  keystream bytes/s of crypto::AddMasks (the masking path
//                   of client and server) against `openssl speed -evp
//                   aes-256-ctr` at its largest block (secagg_bench_prg.cc)
//   client cost     one client's protocol time per round, d = 1e5 and 1e6,
//                   against one local training of the small CNN on the demo
//                   scenario's plan (secagg_bench_protocol.cc, _training.cc)
//   server unmask   n = 1000, d = 1e5, 0/10/30% of clients dropping before
//                   their masked input, against a plain sum of the same
//                   vectors, with the server's own breakdown (summation,
//                   Shamir reconstruction, seed derivation, mask expansion)
//   bytes/client    payload bytes against the masked vector alone
//
//   unmask limit    n = 1000, d = 1e5, 30% dropping, on 1 thread and every
//                   core, against `openssl speed` AES-CTR and X25519 rates
//                   (issue 17, item 5: unmask_vs_limit)
//   secagg_bench [--out=docs/bench/secagg.json] [--only=mask|client|server|limit|bytes]
//
// The driver merges its keys into the existing JSON file and keeps keys it
// does not own (such as accuracy_drop_points) untouched.

#include <openssl/crypto.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/secagg_bench.h"
#include "common/base/logging.h"
#include "common/base/parallel_for.h"

ABSL_FLAG(std::string, out, "docs/bench/secagg.json", "JSON file to merge into.");
ABSL_FLAG(int, openssl_seconds, 1, "Seconds per block size for `openssl speed`.");
ABSL_FLAG(std::string, only, "",
          "Run one part: mask, client, server, limit or bytes.");
ABSL_FLAG(std::string, idx_dir, "/usr/share/datasets/fashion-mnist",
          "Fashion-MNIST IDX files for the local-training baseline.");

namespace cohort::secagg::bench {

std::string J(double v) { return absl::StrFormat("%.4g", v); }

namespace {

using Members = std::vector<std::pair<std::string, std::string>>;

// Splits the top-level object of `text` into (key, raw value text) pairs.
// Enough JSON for our own files: strings with escapes, nested braces and
// brackets. Returns an empty list for an empty or unreadable file.
Members ParseTopLevel(const std::string& text) {
  Members out;
  size_t i = text.find('{');
  if (i == std::string::npos) return out;
  ++i;
  auto skip_ws = [&] { while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i; };
  auto skip_string = [&] {  // at the opening quote
    for (++i; i < text.size() && text[i] != '"'; ++i) if (text[i] == '\\') ++i;
    ++i;
  };
  while (true) {
    skip_ws();
    if (i >= text.size() || text[i] != '"') return out;
    const size_t ks = i;
    skip_string();
    std::string key = text.substr(ks + 1, i - ks - 2);
    skip_ws();
    if (i >= text.size() || text[i] != ':') return {};
    ++i;
    skip_ws();
    const size_t vs = i;
    int depth = 0;
    while (i < text.size()) {
      const char ch = text[i];
      if (ch == '"') { skip_string(); continue; }
      if (ch == '{' || ch == '[') ++depth;
      if (ch == '}' || ch == ']') { if (depth == 0) break; --depth; }
      if (ch == ',' && depth == 0) break;
      ++i;
    }
    std::string value = text.substr(vs, i - vs);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    out.emplace_back(std::move(key), std::move(value));
    if (i >= text.size() || text[i] == '}') return out;
    ++i;  // the comma
  }
}

// Keys earlier versions of this driver wrote and this one replaces.
constexpr const char* kRetiredKeys[] = {"client_setup", "server_setup"};

void Merge(const std::string& path, const Members& ours) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  Members all;
  for (auto& m : ParseTopLevel(ss.str())) {
    bool retired = false;
    for (const char* r : kRetiredKeys) retired |= m.first == r;
    if (!retired) all.push_back(std::move(m));
  }
  for (const auto& [key, value] : ours) {
    bool found = false;
    for (auto& m : all) {
      if (m.first == key) {
        m.second = value;
        found = true;
      }
    }
    if (!found) all.emplace_back(key, value);
  }
  std::string text = "{\n";
  for (size_t k = 0; k < all.size(); ++k) {
    absl::StrAppend(&text, "  \"", all[k].first, "\": ", all[k].second,
                    k + 1 < all.size() ? ",\n" : "\n");
  }
  text += "}\n";
  std::ofstream f(path);
  CHECK(f.good()) << "cannot write " << path;
  f << text;
  std::printf("merged %zu keys into %s\n", ours.size(), path.c_str());
}

std::string Environment(const std::string& only) {
  std::ifstream cpu("/proc/cpuinfo");
  std::string line, model = "unknown";
  int cores = 0;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      ++cores;
    }
  }
  return absl::StrCat("{\"command\": \"build/bin/secagg_bench", only.empty() ? "" : " --only=",
                      only, "\", \"cpu\": \"", model, "\", \"cpus\": ", cores,
                      ", \"openssl\": \"", OpenSSL_version(OPENSSL_VERSION),
                      "\", \"build\": \"cmake --preset release (RelWithDebInfo, GCC)\"}");
}

std::string Keyed(const std::vector<std::pair<std::string, double>>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    absl::StrAppend(&s, i ? ", " : "", "\"", v[i].first, "\": ", J(v[i].second));
  }
  return s + "}";
}

// `openssl speed` rates at one moment: AES-256-CTR bytes/s (16 KiB blocks)
// and X25519 agreements/s, over `processes` processes at once.
struct OpensslRates {
  double aes = 0, x25519 = 0;
  std::string aes_line, x_line;
};

OpensslRates MeasureOpenssl(int seconds, int processes) {
  OpensslRates r;
  r.aes = OpensslBytesPerSecond(seconds, &r.aes_line, processes);
  r.x25519 = OpensslX25519PerSecond(seconds, &r.x_line, processes);
  return r;
}

std::string RatesJson(const OpensslRates& r) {
  return absl::StrCat("{\"aes_256_ctr_bytes_per_s\": ", J(r.aes),
                      ", \"x25519_per_s\": ", J(r.x25519), ", \"lines\": [\"",
                      r.aes_line, "\", \"", r.x_line, "\"]}");
}

// Milliseconds that `masks` masks of d 16-bit elements and `agreements`
// X25519 operations take at `rates`.
double WorkMs(const OpensslRates& rates, int masks, int64_t d, int bits,
              int agreements) {
  return 1000.0 * (static_cast<double>(masks) * d * ((bits + 7) / 8) / rates.aes +
                   agreements / rates.x25519);
}

// Issue 17, item 5: Unmasking at n = 1000, d = 1e5, 30% dropping before
// their masked input, on 1 thread and on every core, against its limit: the
// keystream of every mask removed at `openssl speed` AES-256-CTR rate plus
// every X25519 operation (one per pairwise mask, one public-key check per
// dropped client) at `openssl speed ecdhx25519` rate, divided by the
// threads used. This machine's speed drifts by up to a fifth within
// minutes, so the one-core rates are measured just before and just after
// each unmasking run and averaged. Beside it, the same work at the rates
// `openssl speed -multi <threads>` measures right after the run on as many
// cores at once (`ratio_vs_measured_cores`): what the cores give together,
// which the division assumes is `threads` times one core.
std::string UnmaskRunJson(int threads, int seconds, double* ratio_out) {
  const int n = 1000, dropped = 300, bits = 16;
  const int64_t d = 100000;
  const OpensslRates before = MeasureOpenssl(seconds, 1);
  const ProtocolRun r = RunProtocol(n, d, bits, dropped, 0.3, 0.1, threads);
  const OpensslRates after = MeasureOpenssl(seconds, 1);
  const OpensslRates multi =
      threads > 1 ? MeasureOpenssl(seconds, threads) : after;
  OpensslRates one_core;
  one_core.aes = (before.aes + after.aes) / 2;
  one_core.x25519 = (before.x25519 + after.x25519) / 2;
  const int agreements = r.masks_removed - (n - dropped) + dropped;
  const double keystream_ms = WorkMs(one_core, r.masks_removed, d, bits, 0);
  const double x25519_ms = 1000.0 * agreements / one_core.x25519;
  const double limit_ms = (keystream_ms + x25519_ms) / threads;
  const double ratio = r.server_unmask_ms / limit_ms;
  const double measured_ms = threads > 1
      ? WorkMs(multi, r.masks_removed, d, bits, agreements) : limit_ms;
  const double measured_ratio = r.server_unmask_ms / measured_ms;
  std::printf("unmask n=%d d=%lld drop=%d threads=%d: %.1f ms, limit %.1f ms "
              "(keystream %.1f + x25519 %.1f, / %d) = %.3fx; at openssl's "
              "rates on %d cores at once %.1f ms = %.3fx\n",
              n, static_cast<long long>(d), dropped, threads, r.server_unmask_ms,
              limit_ms, keystream_ms, x25519_ms, threads, ratio, threads,
              measured_ms, measured_ratio);
  *ratio_out = ratio;
  return absl::StrCat(
      "\"", threads, "\": {\"server_unmask_ms\": ", J(r.server_unmask_ms),
      ", \"limit_ms\": ", J(limit_ms), ", \"keystream_ms_one_core\": ",
      J(keystream_ms), ", \"x25519_ms_one_core\": ", J(x25519_ms),
      ", \"ratio\": ", J(ratio), ", \"measured_cores_limit_ms\": ",
      J(measured_ms), ", \"ratio_vs_measured_cores\": ", J(measured_ratio),
      ", \"openssl_before\": ", RatesJson(before), ", \"openssl_after\": ",
      RatesJson(after), ", \"openssl_multi\": ", RatesJson(multi),
      ", \"run\": ", ProtocolJson(r), "}");
}

std::string UnmaskVsLimit() {
  const int seconds = absl::GetFlag(FLAGS_openssl_seconds);
  std::string runs;
  double ratio = 0;  // the last run's: every core
  for (int threads : {1, base::AvailableCores()}) {
    absl::StrAppend(&runs, runs.empty() ? "" : ", ",
                    UnmaskRunJson(threads, seconds, &ratio));
  }
  return absl::StrCat(
      "{\"ratio\": ", J(ratio), ", \"goal\": 1.3, \"by_threads\": {", runs,
      "}, \"limit\": \"(masks_removed * d * ceil(bits/8) / aes_rate + "
      "(pairwise_masks + dropped) / x25519_rate) / threads, the one-core "
      "rates the mean of openssl speed just before and just after the run\"}");
}

// Client 0's cost in a demo-sized round (100 clients, k and t for 10%
// expected dropout) against one local training, at d = 1e5 and 1e6 ("client"),
// or only the d = 1e5 round whose share ciphertext size "bytes" needs.
// Returns that ciphertext size.
size_t ClientPart(bool client, Members& ours) {
  const LocalTraining train =
      client ? MeasureLocalTraining(absl::GetFlag(FLAGS_idx_dir)) : LocalTraining{};
  std::vector<std::pair<std::string, double>> client_ms, ratio;
  std::string runs;
  size_t ctext = 0;
  for (int64_t d : {int64_t{100000}, int64_t{1000000}}) {
    if (!client && d > 100000) break;
    const ProtocolRun r = RunProtocol(100, d, 16, 0, 0.1, 0.1);
    ctext = r.share_ciphertext_bytes;
    client_ms.emplace_back(absl::StrCat(d), r.client0_ms);
    ratio.emplace_back(absl::StrCat(d), r.client0_ms / train.median_ms);
    absl::StrAppend(&runs, runs.empty() ? "" : ", ", "\"", d, "\": {\"k\": ", r.k,
                    ", \"t\": ", r.t, "}");
    std::printf("client n=100 k=%d t=%d d=%lld: %.1f ms", r.k, r.t,
                static_cast<long long>(d), r.client0_ms);
    if (client) std::printf(" (%.2fx local training)", r.client0_ms / train.median_ms);
    std::printf("\n");
  }
  if (!client) return ctext;
  ours.emplace_back("client_ms", Keyed(client_ms));
  ours.emplace_back("client_detail", absl::StrCat(
      "{\"n\": 100, \"bits\": 16, \"params_by_d\": {", runs,
      "}, \"method\": \"client 0's Start + every ReceiveMessage (key generation, "
      "X25519 + HKDF per neighbour, Shamir sharing, AES-GCM, mask expansion, "
      "unmasking response) while a real SecAggServer drives 100 in-memory clients; "
      "k, t from FindParameters(100, 0.1, 0.1)\", \"cnn_local_training_ms\": ",
      J(train.median_ms), ", \"cnn_parameters\": ", train.parameters,
      ", \"cnn_training\": \"small_cnn, 60 Fashion-MNIST examples x 2 epochs, "
      "batch 10, lr 0.05 (the demo plan), 1 thread, median of 5 after a warm-up\", "
      "\"client_ms_vs_local_training\": ", Keyed(ratio), "}"));
  return ctext;
}

// Server unmasking at n = 1000, d = 1e5 with 0, 10 and 30% dropping, against
// a plain sum of the survivors.
void ServerPart(Members& ours) {
  std::vector<std::pair<std::string, double>> unmask, plain;
  std::string detail;
  for (int pct : {0, 10, 30}) {
    const int n = 1000;
    const ProtocolRun r =
        RunProtocol(n, 100000, 16, n * pct / 100, pct / 100.0, 0.1);
    unmask.emplace_back(absl::StrCat(pct), r.server_unmask_ms);
    plain.emplace_back(absl::StrCat(pct), r.plain_sum_ms);
    absl::StrAppend(&detail, detail.empty() ? "" : ", ", "\"", pct, "\": ", ProtocolJson(r));
    std::printf("server n=1000 d=1e5 drop=%d%% k=%d t=%d: unmask %.1f ms (sum %.1f, "
                "shamir %.1f, x25519 %.1f, masks %.1f), plain sum %.1f ms\n",
                pct, r.k, r.t, r.server_unmask_ms, r.summation_ms, r.reconstruction_ms,
                r.key_agreement_ms, r.mask_expansion_ms, r.plain_sum_ms);
  }
  ours.emplace_back("server_unmask_ms", Keyed(unmask));
  ours.emplace_back("plain_sum_ms", Keyed(plain));
  ours.emplace_back("server_unmask_breakdown", absl::StrCat("{", detail, "}"));
}

int Main() {
  const std::string only = absl::GetFlag(FLAGS_only);
  auto want = [&](const char* part) { return only.empty() || only == part; };
  Members ours;
  if (want("mask")) {
    const MaskExpansion m = MeasureMaskExpansion(absl::GetFlag(FLAGS_openssl_seconds));
    ours.emplace_back("mask_expansion_vs_openssl", J(m.headline_ratio));
    ours.emplace_back("mask_expansion_detail", m.detail_json);
  }
  size_t ctext = 0;
  if (want("client") || want("bytes")) ctext = ClientPart(want("client"), ours);
  if (want("server")) ServerPart(ours);
  if (want("limit")) ours.emplace_back("unmask_vs_limit", UnmaskVsLimit());
  if (want("bytes")) {
    double headline = 0;
    const std::string detail = BytesPerClient(ctext, &headline);
    ours.emplace_back("bytes_per_client_vs_masked_vector", J(headline));
    ours.emplace_back("bytes_per_client_detail", detail);
  }
  ours.emplace_back(only.empty() ? "secagg_bench_environment"
                                 : absl::StrCat("secagg_bench_environment_", only),
                    Environment(only));
  Merge(absl::GetFlag(FLAGS_out), ours);
  return 0;
}

}  // namespace
}  // namespace cohort::secagg::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cohort::secagg::bench::Main();
}
