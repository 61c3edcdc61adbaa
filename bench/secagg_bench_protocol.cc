// An in-memory SecAgg+ round (real SecAggServer, real SecAggClients) for the
// client-cost and server-unmasking figures, and the bytes-per-client
// arithmetic (see secagg_bench.cc).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/secagg_bench.h"
#include "client/secagg/secagg_client.h"
#include "common/base/logging.h"
#include "common/crypto/secure_random.h"
#include "common/secagg/field_element.h"
#include "common/secagg/parameter_finder.h"
#include "common/secagg/secagg_messages.h"
#include "server/secagg/secagg_server.h"

namespace cohort::secagg::bench {
namespace {

class Inbox final : public ServerSender {
 public:
  explicit Inbox(int n) : box(n) {}
  void Send(int client, ServerToClient m) override {
    box[client].push_back(std::move(m));
  }
  std::vector<std::vector<ServerToClient>> box;
};

class Outbox final : public ClientSender {
 public:
  void Send(ClientToServer m) override { out.push_back(std::move(m)); }
  std::vector<ClientToServer> out;
};

std::vector<uint64_t> Input(int client, int64_t d, uint64_t mask) {
  std::vector<uint64_t> x(d);
  uint64_t s = 12345 + 7919 * static_cast<uint64_t>(client);
  for (auto& v : x) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v = (s >> 33) & mask;
  }
  return x;
}

}  // namespace

ProtocolRun RunProtocol(int n, int64_t d, int bits, int dropped,
                        double expected_dropout, double corrupt,
                        int server_threads) {
  ProtocolRun r;
  r.n = n;
  r.d = d;
  r.bits = bits;
  r.dropped = dropped;
  auto params = FindParameters(n, expected_dropout, corrupt);
  r.k = params.ok() ? params->k : n - 1;
  r.t = params.ok() ? params->t : n / 2;
  const SecAggConfig config{.n = n, .k = r.k, .t = r.t, .bits = bits,
                            .vector_length = d, .graph_seed = 5,
                            .round_id = 11};
  Inbox inbox(n);
  auto server = SecAggServer::Create(config, &inbox, server_threads);
  CHECK(server.ok()) << server.status();
  crypto::OpenSslRandom random;
  std::vector<Outbox> outs(n);
  std::vector<std::unique_ptr<SecAggClient>> clients;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  for (int i = 0; i < n; ++i) {
    auto c = SecAggClient::Create(config, i, Input(i, d, mask), &random, &outs[i]);
    CHECK(c.ok()) << c.status();
    clients.push_back(*std::move(c));
  }
  auto last_phase = [&](int i) { return i >= n - dropped ? 2 : 4; };
  auto t0 = Clock::now();
  CHECK(clients[0]->Start().ok());
  r.client0_ms += MsSince(t0);
  for (int i = 1; i < n; ++i) CHECK(clients[i]->Start().ok());
  const char* phase_name[] = {"", "AdvertiseKeys", "ShareKeys",
                              "MaskedInputCollection", "Unmasking"};
  for (int p = 1; p <= 4; ++p) {
    const auto ts = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto out = std::move(outs[i].out);
      outs[i].out.clear();
      if (last_phase(i) < p) continue;
      for (auto& m : out) {
        if (i == 0 && std::holds_alternative<ShareKeys>(m)) {
          const auto& sh = std::get<ShareKeys>(m).shares;
          if (!sh.empty()) r.share_ciphertext_bytes = sh[0].ciphertext.size();
        }
        CHECK(server.value()->ReceiveMessage(i, m).ok());
      }
    }
    if (server.value()->StateName() == phase_name[p]) {
      (void)server.value()->ProceedToNext();
    }
    if (p == 4) r.server_unmask_ms = MsSince(ts);
    for (int i = 0; i < n; ++i) {
      auto msgs = std::move(inbox.box[i]);
      inbox.box[i].clear();
      if (last_phase(i) <= p) continue;
      for (auto& m : msgs) {
        t0 = Clock::now();
        const absl::Status st = clients[i]->ReceiveMessage(m);
        if (i == 0) r.client0_ms += MsSince(t0);
        CHECK(st.ok()) << "client " << i << ": " << st;
      }
    }
  }
  CHECK(server.value()->IsCompleted())
      << server.value()->StateName() << " " << server.value()->AbortStatus();
  auto sum = server.value()->Result();
  CHECK(sum.ok()) << sum.status();
  const UnmaskingTimings tm = server.value()->unmasking_timings();
  r.summation_ms = tm.summation_ms;
  r.reconstruction_ms = tm.reconstruction_ms;
  r.key_agreement_ms = tm.key_agreement_ms;
  r.mask_expansion_ms = tm.mask_expansion_ms;
  r.finish_ms = tm.total_ms;
  r.secrets_reconstructed = tm.secrets_reconstructed;
  r.lagrange_sets = tm.lagrange_sets;
  r.masks_removed = tm.masks_removed;
  clients.clear();
  server->reset();
  // The baseline: a plain sum of the same survivors' vectors, held in memory
  // the way the server holds masked inputs.
  std::vector<std::vector<uint64_t>> plain_inputs;
  for (int i = 0; i < n - dropped; ++i) plain_inputs.push_back(Input(i, d, mask));
  t0 = Clock::now();
  std::vector<uint64_t> plain(d, 0);
  for (const auto& x : plain_inputs) {
    for (int64_t j = 0; j < d; ++j) plain[j] += x[j];
  }
  for (auto& v : plain) v &= mask;
  r.plain_sum_ms = MsSince(t0);
  CHECK(plain == *sum) << "secure sum differs from plain sum";
  return r;
}

std::string ProtocolJson(const ProtocolRun& r) {
  return absl::StrCat(
      "{\"n\": ", r.n, ", \"d\": ", r.d, ", \"bits\": ", r.bits, ", \"k\": ", r.k,
      ", \"t\": ", r.t, ", \"dropped_before_masked_input\": ", r.dropped,
      ", \"server_unmask_ms\": ", J(r.server_unmask_ms),
      ", \"plain_sum_ms\": ", J(r.plain_sum_ms),
      ", \"ratio_vs_plain_sum\": ", J(r.server_unmask_ms / r.plain_sum_ms),
      ", \"breakdown_ms\": {\"receive_and_check_responses\": ",
      J(r.server_unmask_ms - r.finish_ms), ", \"summation\": ", J(r.summation_ms),
      ", \"shamir_reconstruction\": ", J(r.reconstruction_ms),
      ", \"pairwise_key_agreement\": ", J(r.key_agreement_ms),
      ", \"mask_expansion\": ", J(r.mask_expansion_ms), ", \"finish_total\": ",
      J(r.finish_ms), "}, \"secrets_reconstructed\": ", r.secrets_reconstructed,
      ", \"lagrange_sets\": ", r.lagrange_sets, ", \"masks_removed\": ",
      r.masks_removed, ", \"client0_ms\": ", J(r.client0_ms), "}");
}

// Payload bytes for one client, no dropouts, k neighbours, n clients:
//   sent:     AdvertiseKeys 2*32
//             ShareKeys k*(4 id + C)
//             MaskedInput ceil(d*bits/8) (+ 4 per rejected peer, 0 here)
//             UnmaskingResponse k*(4 owner + 1 kind + 33 share)
//   received: KeysBroadcast k*(4 id + 2*32)
//             SharesDelivery k*(4 id + C)
//             UnmaskingRequest 4*n (survivors + dropped lists are global)
std::string BytesPerClient(size_t c, double* headline) {
  const int n = 1024;
  const int64_t d = int64_t{1} << 20;
  const int bits = 16;
  auto plus = FindParameters(n, 0.1, 0.1);
  CHECK(plus.ok()) << plus.status();
  const double masked = d * bits / 8.0;
  auto per_client = [&](int k, double* sent, double* received) {
    const double share = FieldElement::kEncodedBytes;
    *sent = 64 + k * (4.0 + c) + std::ceil(d * bits / 8.0) + k * (4 + 1 + share);
    *received = k * (4.0 + 64) + k * (4.0 + c) + 4.0 * n;
  };
  double ps, pr, cs, cr;
  per_client(plus->k, &ps, &pr);
  per_client(n - 1, &cs, &cr);
  *headline = (ps + pr) / masked;
  const double rc = (cs + cr) / masked;
  std::printf("bytes/client n=1024 d=2^20: SecAgg+ k=%d %.4fx, complete %.4fx\n",
              plus->k, *headline, rc);
  return absl::StrCat(
      "{\"n\": 1024, \"d\": 1048576, \"bits\": 16, \"masked_vector_bytes\": ",
      J(masked), ", \"share_ciphertext_bytes\": ", c, ", \"secagg_plus\": {\"k\": ",
      plus->k, ", \"t\": ", plus->t, ", \"sent\": ", J(ps), ", \"received\": ", J(pr),
      ", \"ratio\": ", J(*headline), ", \"sent_only_ratio\": ", J(ps / masked),
      "}, \"complete_graph\": {\"k\": ", n - 1, ", \"sent\": ", J(cs),
      ", \"received\": ", J(cr), ", \"ratio\": ", J(rc), ", \"sent_only_ratio\": ",
      J(cs / masked), "}, \"bonawitz_2017_ratio\": 1.73, \"formula\": \"sent = 64 + "
      "k*(4+C) + d*bits/8 + k*(4+1+33); received = k*(4+64) + k*(4+C) + 4*n; ratio = "
      "(sent+received)/(d*bits/8); no dropouts\"}");
}

}  // namespace cohort::secagg::bench
