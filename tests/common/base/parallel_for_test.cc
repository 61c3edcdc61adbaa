#include "common/base/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(ParallelForTest, RunsEveryTaskOnceOnAtMostTheThreadsAsked) {
  for (int threads : {0, 1, 2, 3, 8}) {
    std::vector<std::atomic<int>> runs(13);
    std::mutex mu;
    std::set<std::thread::id> ids;
    ParallelFor(13, threads, [&](int t) {
      runs[t].fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    for (int t = 0; t < 13; ++t) EXPECT_EQ(runs[t].load(), 1) << t;
    EXPECT_LE(static_cast<int>(ids.size()), std::max(threads, 1));
    EXPECT_TRUE(ids.count(std::this_thread::get_id()) == 1);
  }
  int calls = 0;
  ParallelFor(0, 4, [&](int) { ++calls; });
  EXPECT_EQ(calls, 0);
  EXPECT_GE(AvailableCores(), 1);
}

}  // namespace
}  // namespace cohort::base
