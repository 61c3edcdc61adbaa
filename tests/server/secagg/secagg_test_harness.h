#ifndef COHORT_TESTS_SERVER_SECAGG_SECAGG_TEST_HARNESS_H_
#define COHORT_TESTS_SERVER_SECAGG_SECAGG_TEST_HARNESS_H_

// Drives n in-memory SecAggClients against one SecAggServer, phase by phase,
// with per-client dropout points and hooks that tamper with, replay or
// reorder messages in either direction.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "glog/logging.h"
#include "client/secagg/secagg_client.h"
#include "server/secagg/secagg_server.h"
#include "tests/testing/fake_random.h"

namespace cohort::secagg::testing {

inline const char* const kServerPhase[] = {"", "AdvertiseKeys", "ShareKeys",
                                           "MaskedInputCollection",
                                           "Unmasking"};

class ServerInbox final : public ServerSender {
 public:
  explicit ServerInbox(int n) : inbox(n) {}
  void Send(int client, ServerToClient m) override {
    inbox[client].push_back(std::move(m));
  }
  std::vector<std::vector<ServerToClient>> inbox;
};

class ClientOutbox final : public ClientSender {
 public:
  void Send(ClientToServer m) override { out.push_back(std::move(m)); }
  std::vector<ClientToServer> out;
};

inline uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Harness {
 public:
  // Client i sends its messages for phases 1..last_phase[i] and then goes
  // silent (4 = never drops). The server unmasks on `threads` threads.
  Harness(const SecAggConfig& config, std::vector<int> last_phase,
          uint64_t seed, int threads = 1)
      : config_(config), last_phase_(std::move(last_phase)), inbox_(config.n),
        outboxes_(config.n) {
    auto server = SecAggServer::Create(config, &inbox_, threads);
    CHECK(server.ok()) << server.status();
    server_ = *std::move(server);
    const uint64_t mask =
        config.bits == 64 ? ~uint64_t{0} : (uint64_t{1} << config.bits) - 1;
    uint64_t s = seed;
    for (int i = 0; i < config.n; ++i) {
      std::vector<uint64_t> x(config.vector_length);
      for (auto& v : x) v = SplitMix(s) & mask;
      x.back() = (1 + SplitMix(s) % 500) & mask;  // example count, summed securely
      randoms_.push_back(
          std::make_unique<cohort::testing::FakeRandom>(seed * 7919 + i));
      auto client = SecAggClient::Create(config, i, x, randoms_.back().get(),
                                         &outboxes_[i]);
      CHECK(client.ok()) << client.status();
      clients_.push_back(*std::move(client));
      inputs_.push_back(std::move(x));
    }
  }

  // Hooks: rewrite a client's outgoing message into zero or more messages,
  // or tamper with a server message before a client sees it.
  std::function<std::vector<ClientToServer>(int, int, ClientToServer)>
      client_hook = [](int, int, ClientToServer m) {
        std::vector<ClientToServer> v;
        v.push_back(std::move(m));
        return v;
      };
  std::function<void(int, int, ServerToClient&)> server_hook =
      [](int, int, ServerToClient&) {};

  void Run() {
    for (auto& c : clients_) CHECK(c->Start().ok());
    for (int p = 1; p <= 4; ++p) {
      for (int i = 0; i < config_.n; ++i) {
        auto out = std::move(outboxes_[i].out);
        outboxes_[i].out.clear();
        if (last_phase_[i] < p) continue;
        for (auto& m : out) {
          for (auto& sent : client_hook(p, i, std::move(m))) {
            absl::Status s = server_->ReceiveMessage(i, sent);
            if (!s.ok()) rejections.push_back({i, s});
          }
        }
      }
      if (server_->StateName() == kServerPhase[p]) (void)server_->ProceedToNext();
      for (int i = 0; i < config_.n; ++i) {
        auto msgs = std::move(inbox_.inbox[i]);
        inbox_.inbox[i].clear();
        if (last_phase_[i] <= p && !server_->IsAborted()) continue;
        for (auto& m : msgs) {
          server_hook(p, i, m);
          absl::Status s = clients_[i]->ReceiveMessage(m);
          if (!s.ok()) {
            client_errors.push_back({i, s});
            last_phase_[i] = std::min(last_phase_[i], p);
          }
        }
      }
      if (server_->IsAborted() || server_->IsCompleted()) return;
    }
  }

  // Plain sum mod 2^bits of the inputs of clients that sent a masked input
  // and were not dropped by the server for it.
  std::vector<uint64_t> ExpectedSum(const std::vector<int>& excluded = {}) const {
    const uint64_t mask =
        config_.bits == 64 ? ~uint64_t{0} : (uint64_t{1} << config_.bits) - 1;
    std::vector<uint64_t> sum(config_.vector_length, 0);
    for (int i = 0; i < config_.n; ++i) {
      if (last_phase_[i] < 3) continue;
      if (std::find(excluded.begin(), excluded.end(), i) != excluded.end())
        continue;
      for (size_t j = 0; j < sum.size(); ++j)
        sum[j] = (sum[j] + inputs_[i][j]) & mask;
    }
    return sum;
  }

  const SecAggConfig& config() const { return config_; }
  SecAggServer& server() { return *server_; }
  SecAggClient& client(int i) { return *clients_[i]; }
  const std::vector<int>& last_phase() const { return last_phase_; }

  std::vector<std::pair<int, absl::Status>> rejections;
  std::vector<std::pair<int, absl::Status>> client_errors;

 private:
  SecAggConfig config_;
  std::vector<int> last_phase_;
  ServerInbox inbox_;
  std::vector<ClientOutbox> outboxes_;
  std::unique_ptr<SecAggServer> server_;
  std::vector<std::unique_ptr<cohort::testing::FakeRandom>> randoms_;
  std::vector<std::unique_ptr<SecAggClient>> clients_;
  std::vector<std::vector<uint64_t>> inputs_;
};

}  // namespace cohort::secagg::testing

#endif  // COHORT_TESTS_SERVER_SECAGG_SECAGG_TEST_HARNESS_H_
