#ifndef COHORT_TESTS_INTEGRATION_STORE_HISTORY_H_
#define COHORT_TESTS_INTEGRATION_STORE_HISTORY_H_

// What no kill may do to a task's history in a coordinator store, checked
// with gtest expectations by the kill -9 tests.

#include <cstdint>
#include <map>
#include <string>

#include "cohort/v1/model.pb.h"
#include "server/store/store.h"

namespace cohort::testing {

// The task's versions and releases as the store holds them.
struct StoreHistory {
  std::map<int64_t, server::ModelVersionRecord> versions;
  std::map<int64_t, server::ReleaseRecord> releases;
  int64_t newest_release() const {
    return releases.empty() ? 0 : releases.rbegin()->first;
  }
};

// Reads the history of `task` and expects it whole:
// - versions numbered 1..N, each the child of the one before;
// - releases numbered 1..M, the newest current, each manifest verifying
//   against `root` and naming a stored version that is not held;
// - no version released twice, and releases in the order of versions
//   (these tests make no rollbacks or pins);
// - with `every_version_released`, every version released (true once a
//   coordinator has resumed: a kill between storing and releasing is
//   finished on start-up).
StoreHistory ExpectWholeHistory(server::Store& store, const std::string& task,
                                const cohort::v1::SignedRoot& root,
                                bool every_version_released);

// Expects `after` to keep every version of `before` (its weights, parent
// and held mark) and every release (its version and signed manifest, byte
// for byte): a kill and a restart lose or rewrite nothing that was stored.
void ExpectKept(const StoreHistory& before, const StoreHistory& after);

}  // namespace cohort::testing

#endif  // COHORT_TESTS_INTEGRATION_STORE_HISTORY_H_
