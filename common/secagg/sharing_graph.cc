#include "common/secagg/sharing_graph.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/splitmix64.h"
#include "glog/logging.h"

namespace cohort::secagg {

absl::StatusOr<SharingGraph> SharingGraph::Create(int n, int k, uint64_t seed) {
  if (n < 2) {
    return absl::InvalidArgumentError(absl::StrCat("need n >= 2, got ", n));
  }
  if (k < 1 || k > n - 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("need 1 <= k <= n-1, got k=", k, " n=", n));
  }
  if (k % 2 != 0 && k != n - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "k must be even (or n-1 for the complete graph), got k=", k));
  }
  // ring[p] is the node at ring position p.
  std::vector<int> ring(n);
  for (int i = 0; i < n; ++i) ring[i] = i;
  base::SplitMix64 rng(seed);
  for (int i = n - 1; i > 0; --i) {
    std::swap(ring[i], ring[rng.Uniform(static_cast<uint64_t>(i) + 1)]);
  }
  std::vector<int> position(n);
  for (int p = 0; p < n; ++p) position[ring[p]] = p;

  std::vector<std::vector<int>> neighbors(n);
  for (auto& out : neighbors) out.reserve(k);
  if (k == n - 1) {
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (j != i) neighbors[i].push_back(j);
      }
    }
  } else {
    // The graph is symmetric, so visiting j in increasing order and
    // appending j to each of its neighbours' lists leaves every list sorted
    // without a sort (each graph is built by every client and the server).
    // For even k < n-1 the k/2 positions on either side never coincide.
    for (int j = 0; j < n; ++j) {
      for (int d = 1; d <= k / 2; ++d) {
        neighbors[ring[(position[j] + d) % n]].push_back(j);
        neighbors[ring[(position[j] - d + n) % n]].push_back(j);
      }
    }
  }
  return SharingGraph(k, std::move(position), std::move(neighbors));
}

const std::vector<int>& SharingGraph::Neighbors(int i) const {
  CHECK(i >= 0 && i < num_nodes()) << "node " << i << " out of range";
  return neighbors_[i];
}

bool SharingGraph::AreNeighbors(int i, int j) const {
  CHECK(j >= 0 && j < num_nodes()) << "node " << j << " out of range";
  const auto& n = Neighbors(i);
  return std::binary_search(n.begin(), n.end(), j);
}

int SharingGraph::RingPosition(int i) const {
  CHECK(i >= 0 && i < num_nodes()) << "node " << i << " out of range";
  return position_[i];
}

}  // namespace cohort::secagg
