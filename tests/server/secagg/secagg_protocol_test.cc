// End-to-end SecAgg+ protocol tests: N in-memory clients against the server.

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <numeric>

#include "common/secagg/parameter_finder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/secagg/secagg_test_harness.h"

namespace cohort::secagg {
namespace {

using testing::Harness;
using testing::SplitMix;

// Drops floor(rate * remaining) clients after each of phases 1, 2 and 3,
// chosen by a seeded shuffle. Returns last_phase per client.
std::vector<int> DropPlan(int n, double rate, uint64_t seed) {
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  uint64_t s = seed;
  for (int i = n - 1; i > 0; --i) std::swap(order[i], order[SplitMix(s) % (i + 1)]);
  std::vector<int> last(n, 4);
  int pos = 0, remaining = n;
  for (int phase = 1; phase <= 3; ++phase) {
    const int drops = static_cast<int>(std::floor(rate * remaining));
    for (int d = 0; d < drops; ++d) last[order[pos++]] = phase;
    remaining -= drops;
  }
  return last;
}

// Whether every secret needed in Unmasking has t holders among the
// neighbours that answer it.
bool Feasible(const SecAggConfig& c, const std::vector<int>& last) {
  auto graph = SharingGraph::Create(c.n, c.k, c.graph_seed);
  if (!graph.ok()) return false;
  for (int o = 0; o < c.n; ++o) {
    if (last[o] < 2) continue;
    int holders = 0;
    for (int h : graph->Neighbors(o)) holders += last[h] == 4;
    if (holders < c.t) return false;
  }
  return true;
}

// k and t from FindParameters for the compound dropout, falling back to the
// complete graph with a generous (low) threshold when the finder has no
// answer for this n or the seeded drops would starve a secret.
SecAggConfig ConfigFor(int n, double rate, const std::vector<int>& last,
                       int bits) {
  SecAggConfig c{.n = n, .bits = bits, .vector_length = 17,
                 .graph_seed = 1234u + n, .round_id = 77};
  const double total = 1 - std::pow(1 - rate, 3);
  auto params = FindParameters(n, std::min(total + 0.05, 0.95), 0.05);
  if (params.ok()) {
    c.k = params->k;
    c.t = params->t;
    if (Feasible(c, last)) return c;
  }
  const int answering = static_cast<int>(std::count(last.begin(), last.end(), 4));
  c.k = n - 1;
  c.t = std::max(1, std::min(c.k, answering - 1));
  return c;
}

struct SumCase {
  int n;
  double rate;
  int bits;
};

class ExactSumTest : public ::testing::TestWithParam<SumCase> {};

TEST_P(ExactSumTest, UnmaskedSumEqualsPlainSumOfSurvivors) {
  const SumCase& p = GetParam();
  const auto last = DropPlan(p.n, p.rate, 99 + p.n);
  const SecAggConfig config = ConfigFor(p.n, p.rate, last, p.bits);
  Harness h(config, last, 5 + p.n);
  std::cout << "n=" << p.n << " drop=" << p.rate << " k=" << config.k
            << " t=" << config.t << "\n";
  h.Run();
  ASSERT_TRUE(h.server().IsCompleted())
      << h.server().StateName() << " " << h.server().AbortStatus()
      << " k=" << config.k << " t=" << config.t;
  auto sum = h.server().Result();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(*sum, h.ExpectedSum());
  EXPECT_TRUE(h.client_errors.empty());
  // The server's own accounting of Unmasking: one secret per survivor (its
  // self-mask seed) and per client that dropped after sharing keys (its mask
  // key); with nobody dropping, every owner's shares sit at the same points,
  // so at most two Lagrange sets (first and last t) are computed.
  const UnmaskingTimings timings = h.server().unmasking_timings();
  const auto& lp = h.last_phase();
  const int survivors = static_cast<int>(std::count_if(
      lp.begin(), lp.end(), [](int v) { return v >= 3; }));
  const int dropped_after_shares =
      static_cast<int>(std::count(lp.begin(), lp.end(), 2));
  EXPECT_EQ(timings.secrets_reconstructed, survivors + dropped_after_shares);
  EXPECT_GE(timings.masks_removed, survivors);
  if (p.rate == 0) {
    EXPECT_LE(timings.lagrange_sets, 2);
  }
  EXPECT_GE(timings.total_ms, timings.mask_expansion_ms);
  // No double revelation, and each kind only where the protocol allows it.
  const auto kinds = h.server().RevealedShareKindsForTesting();
  for (int i = 0; i < p.n; ++i) {
    EXPECT_NE(kinds[i], kRevealedSeedBit | kRevealedKeyBit) << i;
    if (last[i] >= 3) {
      EXPECT_EQ(kinds[i], kRevealedSeedBit) << i;
    } else if (last[i] == 2) {
      EXPECT_EQ(kinds[i], kRevealedKeyBit) << i;
    } else {
      EXPECT_EQ(kinds[i], 0) << i;
    }
  }
}

std::vector<SumCase> SumCases() {
  std::vector<SumCase> cases;
  // n = 1000 runs all 1000 clients in this process, so its cost is mostly
  // their X25519 agreements, two per client and neighbour: about 6 s at 0%
  // (k = 30), 50 s at 10% (k = 268) and 2 min at 30% (the complete graph,
  // since FindParameters has no answer for 30% per phase) on a 2-vCPU EPYC.
  for (int n : {3, 10, 100, 1000}) {
    for (double rate : {0.0, 0.1, 0.3}) cases.push_back({n, rate, 20});
  }
  cases.push_back({10, 0.3, 64});
  cases.push_back({10, 0.1, 1});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Dropouts, ExactSumTest, ::testing::ValuesIn(SumCases()),
    [](const ::testing::TestParamInfo<SumCase>& info) {
      return "n" + std::to_string(info.param.n) + "_drop" +
             std::to_string(static_cast<int>(info.param.rate * 100)) + "_b" +
             std::to_string(info.param.bits);
    });

// Unmasking on several threads (seeds derived in parallel, the sum unmasked
// in slices) gives the sum one thread gives, exactly, with clients dropping
// before their masked input (pairwise masks to undo) and vectors long enough
// for several 16 KiB blocks per slice.
TEST(SecAggServerTest, UnmaskingOnSeveralThreadsGivesTheExactSum) {
  const int n = 40;
  const auto last = DropPlan(n, 0.1, 4242);
  SecAggConfig config = ConfigFor(n, 0.1, last, 24);
  config.vector_length = 20011;
  std::vector<uint64_t> sums[2];
  int thread_counts[2] = {1, 3};
  for (int i = 0; i < 2; ++i) {
    Harness h(config, last, 31, thread_counts[i]);
    h.Run();
    ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
    auto sum = h.server().Result();
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(*sum, h.ExpectedSum()) << thread_counts[i] << " threads";
    // Self masks of U3 and, beyond them, pairwise masks of the dropped.
    EXPECT_GT(h.server().unmasking_timings().masks_removed,
              static_cast<int>(std::count_if(last.begin(), last.end(),
                                             [](int p) { return p >= 3; })));
    sums[i] = *std::move(sum);
  }
  EXPECT_EQ(sums[0], sums[1]);
}

// n = 3 is too small for per-phase rates; drop one client at each point.
TEST(SecAggServerTest, ThreeClientsOneDropsAtEachPoint) {
  for (int phase = 1; phase <= 3; ++phase) {
    std::vector<int> last = {4, 4, 4};
    last[1] = phase;
    const SecAggConfig config{.n = 3, .k = 2, .t = 1, .bits = 16,
                              .vector_length = 5, .graph_seed = 8,
                              .round_id = 1};
    Harness h(config, last, 40 + phase);
    h.Run();
    ASSERT_TRUE(h.server().IsCompleted()) << phase << h.server().AbortStatus();
    EXPECT_EQ(*h.server().Result(), h.ExpectedSum()) << phase;
    const auto kinds = h.server().RevealedShareKindsForTesting();
    EXPECT_EQ(kinds[1], phase == 1   ? 0
                        : phase == 2 ? kRevealedKeyBit
                                     : kRevealedSeedBit);
  }
}

SecAggConfig SmallConfig() {
  return SecAggConfig{.n = 10, .k = 9, .t = 5, .bits = 24, .vector_length = 8,
                      .graph_seed = 3, .round_id = 5};
}

void ExpectAbortedWithoutSum(Harness& h) {
  EXPECT_TRUE(h.server().IsAborted()) << h.server().StateName();
  EXPECT_EQ(h.server().AbortStatus().code(), absl::StatusCode::kAborted);
  EXPECT_FALSE(h.server().Result().ok());
}

TEST(SecAggServerTest, DropsPastThresholdAfterKeysAbort) {
  std::vector<int> last(10, 4);
  for (int i = 0; i < 6; ++i) last[i] = 1;  // 4 share keys, t = 5
  Harness h(SmallConfig(), last, 1);
  h.Run();
  ExpectAbortedWithoutSum(h);
  for (int i = 6; i < 10; ++i) EXPECT_TRUE(h.client(i).IsAborted());
}

TEST(SecAggServerTest, DropsPastThresholdInUnmaskingAbort) {
  std::vector<int> last(10, 3);  // everyone sends input, 4 unmask
  for (int i = 0; i < 4; ++i) last[i] = 4;
  Harness h(SmallConfig(), last, 2);
  h.Run();
  ExpectAbortedWithoutSum(h);
  EXPECT_THAT(std::string(h.server().AbortStatus().message()),
              ::testing::HasSubstr("shares of client"));
}

// A client that goes silent is counted as dropped in the phase it was in;
// one silent in Unmasking still has its input in the sum.
TEST(SecAggServerTest, DroppedByPhaseCountsEachClientWhereItWent) {
  std::vector<int> last(10, 4);
  last[0] = 0;  // never advertises keys
  last[1] = 1;  // no ShareKeys
  last[2] = 2;
  last[3] = 2;  // two send no masked input
  last[4] = 3;  // no unmasking response
  SecAggConfig config = SmallConfig();
  config.t = 3;  // so that five unmasking responses surely suffice
  Harness h(config, last, 6);
  EXPECT_EQ(h.server().DroppedByPhase(), (std::array<int, 4>{0, 0, 0, 0}));
  h.Run();
  ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
  EXPECT_EQ(h.server().DroppedByPhase(), (std::array<int, 4>{1, 1, 2, 1}));
  EXPECT_EQ(h.server().Contributors().size(), 6u);
  EXPECT_EQ(SecAggServer::kPhaseNames[2], std::string("MaskedInputCollection"));
}

// A client that answers a phase and then goes away before the phase ends
// is dropped in that phase, not the next. Its masked input was summed on
// arrival, so it stays in the sum (U3), and the server unmasks it with its
// self-mask seed.
TEST(SecAggServerTest, DroppedAfterAnsweringCountsInThePhaseItAnswered) {
  std::vector<int> last(10, 4);
  SecAggConfig config = SmallConfig();
  config.t = 3;
  Harness h(config, last, 7);
  // Client 0's masked input has arrived when client 1's is about to: client
  // 0 leaves then, while the phase still waits for the others.
  h.client_hook = [&h](int phase, int client, ClientToServer m) {
    if (phase == 3 && client == 1) {
      EXPECT_EQ(h.server().StateName(), "MaskedInputCollection");
      h.server().ClientGone(0);
    }
    std::vector<ClientToServer> v;
    v.push_back(std::move(m));
    return v;
  };
  h.Run();
  ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
  EXPECT_EQ(h.server().DroppedByPhase(), (std::array<int, 4>{0, 0, 1, 0}));
  const std::vector<int> in_sum = h.server().Contributors();
  EXPECT_EQ(in_sum.size(), 10u);
  EXPECT_EQ(std::count(in_sum.begin(), in_sum.end(), 0), 1);
  EXPECT_EQ(*h.server().Result(), h.ExpectedSum());
  EXPECT_EQ(h.server().RevealedShareKindsForTesting()[0], kRevealedSeedBit);
}

// The typed abort names the phase that could not finish, what it kept and
// the threshold it needed; the round engine reports it as the reason.
TEST(SecAggServerTest, AbortInfoNamesPhaseSurvivorsAndThreshold) {
  std::vector<int> last(10, 4);
  for (int i = 0; i < 6; ++i) last[i] = 1;  // 4 share keys, t = 5
  Harness h(SmallConfig(), last, 1);
  EXPECT_FALSE(h.server().abort_info().has_value());
  h.Run();
  auto info = h.server().abort_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->phase, "ShareKeys");
  EXPECT_EQ(info->survivors, 4);
  EXPECT_EQ(info->threshold, 5);
  EXPECT_EQ(info->status, h.server().AbortStatus());

  std::vector<int> unmask(10, 3);  // everyone sends input, 4 unmask
  for (int i = 0; i < 4; ++i) unmask[i] = 4;
  Harness late(SmallConfig(), unmask, 2);
  late.Run();
  info = late.server().abort_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->phase, "Unmasking");
  // The worst-off secrets are the responders' own seeds: each is held by
  // the 3 other responders only.
  EXPECT_EQ(info->survivors, 3);
  EXPECT_EQ(info->threshold, 5);
}

TEST(SecAggServerTest, ExactlyThresholdSurvivesAndCompletes) {
  std::vector<int> last(10, 4);
  for (int i = 0; i < 4; ++i) last[i] = 2;  // 6 survivors, each with 5 holders
  Harness h(SmallConfig(), last, 3);
  h.Run();
  ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
  EXPECT_EQ(*h.server().Result(), h.ExpectedSum());
}

}  // namespace
}  // namespace cohort::secagg
