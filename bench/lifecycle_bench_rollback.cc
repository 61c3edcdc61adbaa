// lifecycle_bench's automatic-rollback figures: a run of the demo scenario
// in which every device of one round sends -20 times its update, with field
// monitoring on; how many rounds after the poisoned one the coordinator
// rolls back by itself, and what the devices and the holdout saw.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/lifecycle_bench.h"
#include "glog/logging.h"
#include "sim/sim_config.h"
#include "sim/simulator.h"

namespace cohort::bench {
namespace {

cohort::v1::SimConfig PoisonedScenario(const RollbackSource& source) {
  auto config = sim::LoadSimConfig(source.config_path);
  CHECK(config.ok()) << config.status();
  config->set_rounds(source.rounds);
  cohort::v1::FieldMonitorConfig* monitor =
      config->mutable_round()->mutable_field_monitor();
  monitor->set_min_reports(std::max(1, config->clients_per_round() / 2));
  monitor->set_max_accuracy_drop(0.1);
  config->mutable_poison()->set_round(source.poisoned_round);
  config->mutable_poison()->set_scale(-20);
  return *config;
}

std::vector<sim::SimRoundRow> Play(const cohort::v1::SimConfig& config) {
  auto resolved = sim::ResolveSimConfig(config);
  CHECK(resolved.ok()) << resolved.status();
  const std::string dir =
      absl::StrCat("/tmp/cohort-lifecycle-rollback-", ::getpid());
  std::filesystem::remove_all(dir);
  std::vector<sim::SimRoundRow> rows;
  {
    auto sim =
        sim::Simulator::Create(*resolved, sim::TransportKind::kInProcess, dir);
    CHECK(sim.ok()) << sim.status();
    sim::Simulator::Callbacks callbacks;
    callbacks.on_round = [&](const sim::SimRoundRow& row) {
      std::printf("rollback run: round %lld %s, field accuracy %.4f over %lld "
                  "reports, holdout %.4f\n",
                  static_cast<long long>(row.round), row.outcome.release.c_str(),
                  row.outcome.field_accuracy,
                  static_cast<long long>(row.outcome.field_reports),
                  row.test_accuracy);
      std::fflush(stdout);
      rows.push_back(row);
    };
    absl::Status status = (*sim)->Run(callbacks);
    CHECK(status.ok()) << status;
  }
  std::filesystem::remove_all(dir);
  return rows;
}

}  // namespace

RollbackFigures MeasureAutoRollback(const RollbackSource& source) {
  CHECK_GE(source.poisoned_round, 2);
  CHECK_GT(source.rounds, source.poisoned_round);
  const std::vector<sim::SimRoundRow> rows = Play(PoisonedScenario(source));
  RollbackFigures f;
  f.poisoned_round = source.poisoned_round;
  const sim::SimRoundRow& poisoned = rows.at(source.poisoned_round - 1);
  f.holdout_before = rows.at(source.poisoned_round - 2).test_accuracy;
  f.holdout_poisoned = poisoned.test_accuracy;
  f.field_accuracy_before = poisoned.outcome.field_accuracy;
  for (const sim::SimRoundRow& row : rows) {
    if (row.round <= source.poisoned_round) continue;
    if (row.outcome.release != "rolled_back") continue;
    f.rounds_to_auto_rollback =
        static_cast<int>(row.round - source.poisoned_round);
    f.field_accuracy_poisoned = row.outcome.field_accuracy;
    f.field_reports = row.outcome.field_reports;
    f.holdout_after = row.test_accuracy;
    break;
  }
  return f;
}

}  // namespace cohort::bench
