#include "tests/integration/store_history.h"

#include <set>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "common/model/trust.h"
#include "gtest/gtest.h"

namespace cohort::testing {
namespace {

void ExpectVersionChain(const StoreHistory& h) {
  int64_t expected = 1;
  for (const auto& [number, v] : h.versions) {
    EXPECT_EQ(number, expected) << "gap in the versions";
    EXPECT_EQ(v.parent, number - 1) << "version " << number;
    EXPECT_FALSE(v.weights.empty()) << "version " << number << " has no weights";
    expected = number + 1;
  }
}

void ExpectReleaseLog(const StoreHistory& h, const std::string& task,
                      const model::TrustedRoot& root) {
  int64_t expected = 1;
  int64_t last_version = 0;
  for (const auto& [number, r] : h.releases) {
    EXPECT_EQ(number, expected) << "gap in the release log";
    expected = number + 1;
    EXPECT_GT(r.version, last_version)
        << "release " << number << " repeats or reorders version " << r.version;
    last_version = r.version;
    cohort::v1::SignedManifest signed_manifest;
    EXPECT_TRUE(signed_manifest.ParseFromString(r.signed_manifest))
        << "release " << number;
    auto m = model::VerifyManifest(root, signed_manifest, {task, 0, absl::Now()});
    EXPECT_TRUE(m.ok()) << "release " << number << ": " << m.status();
    if (m.ok()) {
      EXPECT_EQ(m->release(), number);
      EXPECT_EQ(m->version(), r.version);
    }
    auto v = h.versions.find(r.version);
    EXPECT_TRUE(v != h.versions.end())
        << "release " << number << " names unstored version " << r.version;
    if (v != h.versions.end()) EXPECT_FALSE(v->second.held);
  }
}

// One read of the history, `current` the current release (0 for none).
struct Snapshot {
  StoreHistory history;
  int64_t current = 0;
};

absl::StatusOr<int64_t> CurrentRelease(server::Store& store,
                                       const std::string& task) {
  auto current = store.GetCurrentRelease(task);
  if (!current.ok()) return current.status();
  return current->has_value() ? (*current)->release : 0;
}

// Reads in the order that keeps a snapshot consistent while a coordinator
// still commits (the kill matrix's agent cases): the current release, then
// the releases (each names a version stored before it), then the versions.
// Read again while a release lands in between.
absl::StatusOr<Snapshot> ReadSnapshot(server::Store& store,
                                      const std::string& task) {
  Snapshot s;
  for (int attempt = 0; attempt < 10; ++attempt) {
    s = Snapshot{};
    auto current = CurrentRelease(store, task);
    if (!current.ok()) return current.status();
    s.current = *current;
    auto releases = store.ListReleases(task);
    if (!releases.ok()) return releases.status();
    for (const auto& r : *releases) s.history.releases[r.release] = r;
    auto versions = store.ListVersions(task);
    if (!versions.ok()) return versions.status();
    for (const auto& v : *versions) {
      // ListVersions leaves the weights out: read each one whole.
      auto full = store.GetVersion(task, v.version);
      if (!full.ok()) return full.status();
      s.history.versions[v.version] = *std::move(full);
    }
    if (s.current == s.history.newest_release()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return s;
}

}  // namespace

StoreHistory ExpectWholeHistory(server::Store& store, const std::string& task,
                                const cohort::v1::SignedRoot& root,
                                bool every_version_released) {
  auto trusted = model::TrustedRoot::FromPinned(root);
  EXPECT_TRUE(trusted.ok()) << trusted.status();
  auto snapshot = ReadSnapshot(store, task);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  if (!trusted.ok() || !snapshot.ok()) return {};
  const StoreHistory& h = snapshot->history;
  ExpectVersionChain(h);
  ExpectReleaseLog(h, task, *trusted);
  EXPECT_EQ(snapshot->current, h.newest_release())
      << "the current release is not the newest";
  if (every_version_released) {
    std::set<int64_t> released;
    for (const auto& [number, r] : h.releases) released.insert(r.version);
    for (const auto& [number, v] : h.versions) {
      if (!v.held) {
        EXPECT_TRUE(released.contains(number))
            << "version " << number << " was stored but never released";
      }
    }
  }
  return h;
}

void ExpectKept(const StoreHistory& before, const StoreHistory& after) {
  for (const auto& [number, v] : before.versions) {
    auto it = after.versions.find(number);
    EXPECT_TRUE(it != after.versions.end()) << "version " << number << " lost";
    if (it == after.versions.end()) continue;
    EXPECT_EQ(it->second.weights, v.weights) << "version " << number;
    EXPECT_EQ(it->second.parent, v.parent) << "version " << number;
    EXPECT_EQ(it->second.held, v.held) << "version " << number;
  }
  for (const auto& [number, r] : before.releases) {
    auto it = after.releases.find(number);
    EXPECT_TRUE(it != after.releases.end()) << "release " << number << " lost";
    if (it == after.releases.end()) continue;
    EXPECT_EQ(it->second.version, r.version) << "release " << number;
    EXPECT_EQ(it->second.signed_manifest, r.signed_manifest)
        << "release " << number;
  }
}

}  // namespace cohort::testing
