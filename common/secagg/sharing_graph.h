#ifndef COHORT_COMMON_SECAGG_SHARING_GRAPH_H_
#define COHORT_COMMON_SECAGG_SHARING_GRAPH_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::secagg {

// The SecAgg+ sharing graph: a random k-regular Harary graph on clients
// 0..n-1. Clients are placed on a ring in a seeded random order (Fisher-Yates
// driven by SplitMix64, identical on every platform, so server and clients
// derive the same graph from the round's seed); each client's neighbours are
// the k/2 nearest clients on each side of the ring. k must be even, except
// that k = n-1 (any n) is the complete graph. The graph is undirected, has no
// self-loops, and every node has degree exactly k.
// Immutable after Create; const methods are thread-safe.
class SharingGraph {
 public:
  // INVALID_ARGUMENT if n < 2, k < 1, k > n-1, or k is odd and k != n-1.
  static absl::StatusOr<SharingGraph> Create(int n, int k, uint64_t seed);

  int num_nodes() const { return static_cast<int>(neighbors_.size()); }
  int degree() const { return k_; }

  // Sorted neighbour ids of node i. CHECK-fails if i is out of range.
  const std::vector<int>& Neighbors(int i) const;
  // Whether i and j share an edge (false for i == j). CHECK-fails on a bad id.
  bool AreNeighbors(int i, int j) const;
  // Node i's position on the ring (a permutation of 0..n-1).
  int RingPosition(int i) const;

 private:
  SharingGraph(int k, std::vector<int> position,
               std::vector<std::vector<int>> neighbors)
      : k_(k), position_(std::move(position)), neighbors_(std::move(neighbors)) {}

  int k_;
  std::vector<int> position_;
  std::vector<std::vector<int>> neighbors_;
};

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_SHARING_GRAPH_H_
