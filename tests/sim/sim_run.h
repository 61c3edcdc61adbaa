#ifndef COHORT_TESTS_SIM_SIM_RUN_H_
#define COHORT_TESTS_SIM_SIM_RUN_H_

// Runs a scenario to its end as cohort-sim does, for the simulator tests.

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sim/output/sim_metrics.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"

namespace cohort::testing {

struct SimRun {
  std::vector<sim::SimRoundRow> rows;
  std::string csv;  // metrics.csv's rows without wall_seconds
  // The finished simulator (its model, its clients); null if it failed.
  std::unique_ptr<sim::Simulator> sim;
};

// Resolves `config`, creates the simulator on `transport` with its state in
// `state_dir` and runs every round; a failure at any step is a test
// failure (the rows so far are kept).
inline SimRun RunScenario(const cohort::v1::SimConfig& config,
                          sim::TransportKind transport, const std::string& state_dir) {
  SimRun run;
  auto resolved = sim::ResolveSimConfig(config);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  if (!resolved.ok()) return run;
  auto created = sim::Simulator::Create(*resolved, transport, state_dir);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return run;
  sim::Simulator::Callbacks cb;
  cb.on_round = [&run](const sim::SimRoundRow& r) {
    run.rows.push_back(r);
    run.csv += sim::MetricsCsvWriter::FormatRow(r, /*include_wall=*/false) + "\n";
  };
  absl::Status s = (*created)->Run(cb);
  EXPECT_TRUE(s.ok()) << s;
  run.sim = *std::move(created);
  return run;
}

}  // namespace cohort::testing

#endif  // COHORT_TESTS_SIM_SIM_RUN_H_
