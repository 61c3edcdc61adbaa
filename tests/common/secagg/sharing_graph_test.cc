#include "common/secagg/sharing_graph.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::secagg {
namespace {

void ExpectRegularSymmetricLoopFree(const SharingGraph& g, int k) {
  for (int i = 0; i < g.num_nodes(); ++i) {
    const auto& nb = g.Neighbors(i);
    EXPECT_EQ(static_cast<int>(nb.size()), k) << "node " << i;
    EXPECT_EQ(std::set<int>(nb.begin(), nb.end()).size(), nb.size());
    EXPECT_FALSE(g.AreNeighbors(i, i));
    for (int j : nb) {
      EXPECT_TRUE(g.AreNeighbors(j, i)) << i << "-" << j;
      EXPECT_TRUE(g.AreNeighbors(i, j));
    }
  }
}

TEST(SharingGraphTest, RegularSymmetricNoSelfLoops) {
  for (int n : {3, 5, 10, 101, 1000}) {
    for (int k = 2; k < n - 1 && k <= 40; k += 2) {
      auto g = SharingGraph::Create(n, k, 1234 + n);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(g->degree(), k);
      ExpectRegularSymmetricLoopFree(*g, k);
    }
  }
}

TEST(SharingGraphTest, KEqualsNMinusOneIsComplete) {
  for (int n : {2, 3, 4, 7, 20}) {
    auto g = SharingGraph::Create(n, n - 1, 9);
    ASSERT_TRUE(g.ok()) << g.status();
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) EXPECT_EQ(g->AreNeighbors(i, j), i != j);
    }
  }
}

TEST(SharingGraphTest, NeighboursAreRingNeighbours) {
  auto g = SharingGraph::Create(50, 6, 5);
  ASSERT_TRUE(g.ok());
  for (int i = 0; i < 50; ++i) {
    for (int j : g->Neighbors(i)) {
      int d = std::abs(g->RingPosition(i) - g->RingPosition(j));
      EXPECT_LE(std::min(d, 50 - d), 3);
    }
  }
}

TEST(SharingGraphTest, DeterministicPerSeedAndSeedMatters) {
  auto a = SharingGraph::Create(200, 10, 42);
  auto b = SharingGraph::Create(200, 10, 42);
  auto c = SharingGraph::Create(200, 10, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(a->Neighbors(i), b->Neighbors(i));
    differs |= a->Neighbors(i) != c->Neighbors(i);
  }
  EXPECT_TRUE(differs);
  // The permutation is not the identity.
  int moved = 0;
  for (int i = 0; i < 200; ++i) moved += a->RingPosition(i) != i;
  EXPECT_GT(moved, 100);
}

TEST(SharingGraphTest, RejectsBadArguments) {
  EXPECT_FALSE(SharingGraph::Create(1, 0, 0).ok());
  EXPECT_FALSE(SharingGraph::Create(10, 0, 0).ok());
  EXPECT_FALSE(SharingGraph::Create(10, 3, 0).ok());   // odd, not n-1
  EXPECT_FALSE(SharingGraph::Create(10, 10, 0).ok());  // > n-1
  EXPECT_EQ(SharingGraph::Create(10, 3, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::secagg
