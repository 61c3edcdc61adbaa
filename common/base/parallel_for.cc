#include "common/base/parallel_for.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace cohort::base {

void ParallelFor(int tasks, int threads, absl::FunctionRef<void(int)> fn) {
  const int used = std::max(1, std::min(threads, tasks));
  auto run_lane = [&](int lane) {
    for (int t = lane; t < tasks; t += used) fn(t);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(used - 1);
  for (int lane = 1; lane < used; ++lane) helpers.emplace_back(run_lane, lane);
  run_lane(0);
  for (std::thread& h : helpers) h.join();
}

int AvailableCores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace cohort::base
