#ifndef COHORT_SERVER_ROUND_ROUND_COMMITTER_H_
#define COHORT_SERVER_ROUND_ROUND_COMMITTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "server/aggregation/server_optimizer.h"
#include "server/round/published_model.h"
#include "server/round/round_options.h"
#include "server/round/round_result.h"
#include "server/registry/release_registry.h"
#include "server/round/task_model.h"
#include "server/store/store.h"

namespace cohort::server {

// Turns a RoundResult into the task's next model version: the one commit
// path for plain and secure rounds alike. A commit runs these steps, in
// order, each its own method:
//
//   1. apply the server optimizer to the parent's weights (no state change);
//   2. check the new weights are finite, evaluate them on the TaskModel and
//      build the PublishedModel (artifact, hash, metrics);
//   3. write the version record to the Store durably (Persist);
//   3a. the regression gate (GateVerdict): a version whose holdout accuracy
//      fell more than the gate allows below its parent's (the current
//      release), or any version while the current release is a pin, is
//      stored as held (Hold) and the commit ends there;
//   4. only then advance the optimizer's state (momentum);
//   5. when releases are signed, release it (Released): sign its manifest
//      and make it the current release.
//
// Version numbers come from NextVersion: one above the highest the store
// holds, held versions included.
//
// Owns the ServerOptimizer, whose state is stored with each version it
// makes (RestoreOptimizer resumes it). Store,
// TaskModel, Clock and the ReleaseRegistry (null: releases are not signed)
// are borrowed and must outlive the committer. Not
// thread-safe: the engine calls it from its driver thread only, never under
// its mutex.
class RoundCommitter {
 public:
  // Reads task, int8_artifacts, server_optimizer, clipping, privacy,
  // personal and gate_max_accuracy_drop from `options`.
  RoundCommitter(const RoundOptions& options, Store* store,
                 TaskModel* task_model, base::Clock* clock,
                 ReleaseRegistry* registry = nullptr);

  RoundCommitter(const RoundCommitter&) = delete;
  RoundCommitter& operator=(const RoundCommitter&) = delete;

  // Resumes the server optimizer from the state stored with `record`, the
  // current version whose weights are `weights` (the state covers their
  // shared tensors, RoundOptions.personal): a restarted coordinator
  // continues exactly where it stopped. An empty state (none stored) or
  // one of another optimizer starts fresh, and so do moments stored before
  // plan.personal_layers changed (they cover other tensors; logged).
  // DATA_LOSS, naming the version,
  // for a state that does not parse or does not fit the weights; the
  // optimizer is then reset.
  // The adaptive clip bound is resumed from the same state
  // (ServerOptimizerState.clip_norm), clamped into the configured range; a
  // negative or non-finite stored bound is DATA_LOSS too (the optimizer is
  // still restored), and the bound starts over.
  absl::Status RestoreOptimizer(const ModelVersionRecord& record,
                                const cohort::v1::Weights& weights);

  // The L2 bound for rounds that train from the current version: fixed, or
  // adapted by every commit (ClipBound) and stored with the version.
  double clip_norm() const { return clip_.current(); }

  // Under differential privacy, the noised rounds the task has committed,
  // held or not: each version's metrics carry the count ("dp_rounds") and
  // the epsilon it makes ("epsilon"), so the count survives a restart, and
  // a rollback or a held version never gives budget back. 0 without
  // differential privacy.
  int64_t privacy_rounds() const { return dp_rounds_; }
  // Re-reads privacy_rounds() from the store: the most any stored version
  // counts. Store errors as-is; FAILED_PRECONDITION (the count is still
  // read) when a stored version was made without differential privacy, or
  // when the current settings price the rounds spent below the epsilon the
  // store recorded (more noise or a larger population now: it would
  // under-report them).
  absl::Status LoadPrivacyRounds();

  // Creates version 1 (parent 0, round 0) from TaskModel::InitialWeights(),
  // evaluates and persists it. Errors from the TaskModel and the Store are
  // returned as-is, e.g. FAILED_PRECONDITION when the task already has a
  // version.
  absl::StatusOr<std::shared_ptr<const PublishedModel>> CommitInitial();

  // Commits `result` as version result.parent->version + 1 with parent
  // result.parent->version, metrics from TaskModel::Evaluate plus
  // "train_loss" (result.mean_loss, unless NaN) and "participants", and
  // under differential privacy "dp_rounds" and "epsilon". Returns the new
  // version. Status codes:
  //   INVALID_ARGUMENT     mean_delta's layout differs from the parent's, or
  //                        the weights cannot be quantized for the artifact;
  //   INTERNAL             the new weights are not finite (never published);
  //   FAILED_PRECONDITION  from the Store: the parent is no longer current;
  //   others               from TaskModel::Evaluate or the Store, as-is
  //                        (UNAVAILABLE, INTERNAL, DATA_LOSS, ...).
  // A version the gate holds is returned with `held` set: it is in the
  // store (ModelVersionRecord::held), not current, not released, and the
  // optimizer state is unchanged.
  // On any error the optimizer state is unchanged, so committing the same
  // result again computes the same version. A Store error may be in doubt
  // (the version landed after all): the caller re-reads the Store.
  //
  // With a registry, the returned version carries its release; a registry
  // error after the version is durable is returned as-is, and the engine
  // releases the version when it re-reads the store (Released).
  absl::StatusOr<std::shared_ptr<const PublishedModel>> Commit(
      const RoundResult& result);

  // `model` (stored as the child of `parent`) with its release attached:
  // the current release if it publishes model's version, else a new release
  // of it ("gate", `reason`). `model` as it is without a registry. Errors
  // from the registry and the store as-is (DATA_LOSS for a stored release
  // that does not verify).
  absl::StatusOr<std::shared_ptr<const PublishedModel>> Released(
      std::shared_ptr<const PublishedModel> model, int64_t parent,
      const std::string& reason,
      ReleaseRecord::Kind kind = ReleaseRecord::Kind::kPromote,
      const std::string& actor = "gate");

  // `model` (the current version) with the registry's current release
  // attached when that is a newer release of the same version: the
  // registry re-signs a release whose key changed or whose manifest nears
  // expiry (ReleaseRegistry::Current). `model` itself otherwise, and
  // without a registry. Registry errors as-is.
  absl::StatusOr<std::shared_ptr<const PublishedModel>> Refreshed(
      std::shared_ptr<const PublishedModel> model);

  // A rollback: commits `source`'s weights as a new version (child of the
  // current version `parent`, round 0, source's metrics plus
  // "rolled_back_from"), forgets the optimizer's momentum, and releases it
  // as kind rollback for `actor`. The history stays linear and the release
  // number grows, so devices' anti-downgrade check holds. Errors from the
  // store and registry as-is (FAILED_PRECONDITION when `parent` is no longer
  // current).
  // `kind` kPromote or kPin releases the same way under that kind (the
  // log's reason then says "promote" or "pin").
  absl::StatusOr<std::shared_ptr<const PublishedModel>> RollBack(
      const PublishedModel& source, int64_t parent, const std::string& reason,
      const std::string& actor,
      ReleaseRecord::Kind kind = ReleaseRecord::Kind::kRollback);

 private:
  // Step 1: the optimizer step from result.parent, checked finite. INTERNAL
  // if it is not. With personal layers the step covers the shared tensors
  // and the parent's personal tensors are carried over unchanged.
  absl::StatusOr<ServerOptimizer::StepResult> ApplyOptimizer(
      const RoundResult& result) const;
  // The step from `shared`, laid out like result.mean_delta.
  absl::StatusOr<ServerOptimizer::StepResult> StepShared(
      const cohort::v1::Weights& shared, const RoundResult& result) const;
  // Step 2: evaluates `weights` and builds the candidate version.
  absl::StatusOr<std::shared_ptr<const PublishedModel>> BuildVersion(
      const RoundResult& result, cohort::v1::Weights weights);
  // `model` published under `release`.
  static std::shared_ptr<const PublishedModel> Attach(
      const PublishedModel& model, Release release);
  // Step 3a: why `model` must be held, or nullopt to release it. Registry
  // errors as-is.
  absl::StatusOr<std::optional<std::string>> GateVerdict(
      const PublishedModel& model, const PublishedModel& parent);
  // Stores `model` as held (child of `parent`) and returns it marked held.
  absl::StatusOr<std::shared_ptr<const PublishedModel>> Hold(
      const PublishedModel& model, int64_t parent, const std::string& reason);
  // The number of the next version: above every stored one.
  absl::StatusOr<int64_t> NextVersion();
  // Step 3: writes `model` as the child of version `parent`, durably, with
  // the optimizer `state` that made it (null or stateless: none stored).
  absl::Status Persist(const PublishedModel& model, int64_t parent,
                       const cohort::v1::ServerOptimizerState* state = nullptr);
  // Sets metrics "dp_rounds" and "epsilon" for `rounds` noised rounds,
  // under differential privacy.
  void AddPrivacyMetrics(std::map<std::string, double>& metrics,
                         int64_t rounds) const;
  // The store record of `model`; the only place one is built.
  ModelVersionRecord MakeRecord(const PublishedModel& model,
                                int64_t parent) const;

  const std::string task_;
  const bool int8_artifacts_;
  Store* const store_;
  TaskModel* const task_model_;
  base::Clock* const clock_;
  ServerOptimizer optimizer_;
  ClipBound clip_;
  const PrivacyOptions privacy_;
  // The optimizer steps the shared tensors; personal ones keep the
  // parent's values.
  const model::PersonalLayers personal_;
  int64_t dp_rounds_ = 0;
  ReleaseRegistry* const registry_;
  const std::optional<double> gate_max_accuracy_drop_;
  // The highest version number stored; 0: ask the store.
  int64_t highest_version_ = 0;
};

// The holdout metric the gate compares.
inline constexpr char kGateMetric[] = "test_accuracy";
// Under differential privacy, each version's count of the task's noised
// rounds so far and the epsilon they spend (at the configured delta).
inline constexpr char kPrivacyRoundsMetric[] = "dp_rounds";
inline constexpr char kEpsilonMetric[] = "epsilon";

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_COMMITTER_H_
