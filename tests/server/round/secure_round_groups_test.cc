// Hierarchical secure aggregation through the RoundEngine: a cohort larger
// than max_group_size runs several SecAgg+ instances, adds their sums, and
// leaves out a group that aborts instead of the round.

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/server/round/secure_round_fixture.h"

namespace cohort::server {
namespace {

using testing_secure::Device;
using testing_secure::SecureRoundTest;

class SecureRoundGroupsTest : public SecureRoundTest {
 protected:
  // Drops `names` (their streams close) when they would send ShareKeys.
  void PumpDroppingAfterKeys(const std::vector<std::string>& names) {
    Pump([&](Device& d, const cohort::v1::SecAggClientMessage& m) {
      const bool leaves =
          std::find(names.begin(), names.end(), d.name) != names.end();
      if (leaves && m.has_share_keys()) {
        engine_->Drop(d.name, round_);
        d.silent = true;
        return false;
      }
      return true;
    });
  }

  // The devices of each group, from the SecAggBegin each was sent: groups
  // are dealt by a keyed shuffle, not by name.
  std::vector<std::vector<int>> Groups() {
    std::map<std::pair<uint64_t, int>, std::vector<int>> by_graph;
    for (size_t i = 0; i < devices_.size(); ++i) {
      const auto& q = devices_[i].channel->queue;
      EXPECT_FALSE(q.empty()) << i;
      if (q.empty() || !q.front().secagg().has_begin()) continue;
      const auto& begin = q.front().secagg().begin();
      by_graph[{begin.graph_seed(), begin.num_clients()}].push_back(i);
    }
    std::vector<std::vector<int>> groups;
    for (auto& [key, members] : by_graph) {
      EXPECT_EQ(static_cast<int>(members.size()), key.second);
      groups.push_back(members);
    }
    return groups;
  }
};

// 9 devices in groups of 3 (each group the complete graph with t = 2). Two
// of one group leave after their keys, so that group keeps 1 < t and
// aborts; the round commits exactly the other two groups' inputs.
TEST_F(SecureRoundGroupsTest, AddsGroupSumsAndLeavesOutAGroupPastItsThreshold) {
  options_.secagg.max_group_size = 3;
  options_.min_reports = 6;
  StartEngine(9);
  const std::vector<float> values = {0.1f, 0.2f, 0.3f, 0.9f, 0.8f,
                                     0.7f, 0.4f, 0.5f, 0.6f};
  const std::vector<int64_t> counts = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  Train(values, counts);
  const std::vector<std::vector<int>> groups = Groups();
  ASSERT_EQ(groups.size(), 3u);
  const std::vector<int>& failing = groups[1];
  PumpDroppingAfterKeys(
      {devices_[failing[0]].name, devices_[failing[1]].name});
  if (summaries_.empty()) {
    clock_.Advance(absl::Seconds(31));  // group 1's ShareKeys deadline
    Pump();
  }
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(summaries_[0].participants, 6);
  // Exactly the two completed groups' inputs, nothing of the failed one.
  double num = 0;
  int64_t examples = 0;
  for (int g : {0, 2}) {
    for (int i : groups[g]) {
      num += values[i] * counts[i];
      examples += counts[i];
    }
  }
  EXPECT_EQ(summaries_[0].total_examples, examples);
  EXPECT_NEAR(CurrentValue(), num / examples, 1e-3);
  EXPECT_NEAR(summaries_[0].train_loss, 0.5, 1e-3);
  EXPECT_EQ(summaries_[0].drops.secagg, 3);  // all of the failed group
  for (int g : {0, 2}) {
    for (int i : groups[g]) {
      ASSERT_TRUE(devices_[i].ack.has_value()) << i;
      EXPECT_TRUE(devices_[i].ack->accepted()) << i;
    }
  }
  // The failed group's survivor learns that its group released nothing.
  const Device& survivor = devices_[failing[2]];
  ASSERT_TRUE(survivor.ack.has_value());
  EXPECT_FALSE(survivor.ack->accepted());
  EXPECT_NE(survivor.ack->message().find("aborted"), std::string::npos)
      << survivor.ack->message();
}

// A round whose groups left out take its sum below min_reports is not
// committed: two groups of three left, one of them failing, leaves 3 < 4.
TEST_F(SecureRoundGroupsTest, TooFewInputsLeftInTheSumAreNotCommitted) {
  options_.secagg.max_group_size = 3;
  options_.min_reports = 4;
  StartEngine(6);
  Train({1, 1, 1, 1, 1, 1}, std::vector<int64_t>(6, 10));
  const std::vector<std::vector<int>> groups = Groups();
  ASSERT_EQ(groups.size(), 2u);
  PumpDroppingAfterKeys(
      {devices_[groups[0][0]].name, devices_[groups[0][1]].name});
  clock_.Advance(absl::Seconds(31));
  Pump();
  EXPECT_TRUE(summaries_.empty());
  ASSERT_EQ(abandoned_.size(), 1u);
  const AbandonReason& why = *abandoned_[0].abandoned;
  EXPECT_EQ(why.cause, AbandonCause::kTooFewReports);
  EXPECT_EQ(why.survivors, 3);
  EXPECT_EQ(why.threshold, 4);
  EXPECT_EQ(engine_->current_model()->version, 1);
  for (int i : groups[1]) {
    ASSERT_TRUE(devices_[i].ack.has_value());
    EXPECT_FALSE(devices_[i].ack->accepted());
  }
}

// The same sums with and without groups: each group's encoding is planned
// for its own size, and the decoded group sums add to the one-group result.
TEST_F(SecureRoundGroupsTest, GroupsCommitTheMeanOneGroupCommits) {
  const std::vector<float> values = {0.3f, -0.2f, 0.25f, 0.1f, 0.7f, -0.6f, 0.05f};
  const std::vector<int64_t> counts = {5, 15, 25, 35, 45, 55, 65};
  double expected_num = 0;
  for (size_t i = 0; i < values.size(); ++i) expected_num += values[i] * counts[i];
  options_.secagg.max_group_size = 3;  // 7 devices: groups of 3, 2 and 2
  StartEngine(7);
  Train(values, counts);
  const std::vector<std::vector<int>> groups = Groups();
  ASSERT_EQ(groups.size(), 3u);
  Pump();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].participants, 7);
  EXPECT_EQ(summaries_[0].total_examples, 245);
  EXPECT_NEAR(CurrentValue(), expected_num / 245, 1e-3);
  for (const auto& d : devices_) {
    ASSERT_TRUE(d.ack.has_value()) << d.name;
    EXPECT_TRUE(d.ack->accepted()) << d.name;
  }
}

// Only when every group aborts is the round abandoned, and the reason says
// so.
TEST_F(SecureRoundGroupsTest, EveryGroupAbortedAbandonsTheRound) {
  options_.secagg.max_group_size = 3;
  StartEngine(6);
  Train({1, 1, 1, 1, 1, 1}, std::vector<int64_t>(6, 10));
  const std::vector<std::vector<int>> groups = Groups();
  ASSERT_EQ(groups.size(), 2u);
  PumpDroppingAfterKeys(
      {devices_[groups[0][0]].name, devices_[groups[0][1]].name,
       devices_[groups[1][0]].name, devices_[groups[1][1]].name});
  clock_.Advance(absl::Seconds(31));
  Pump();
  EXPECT_TRUE(summaries_.empty());
  ASSERT_EQ(abandoned_.size(), 1u);
  const AbandonReason& why = *abandoned_[0].abandoned;
  EXPECT_EQ(why.cause, AbandonCause::kSecAggAborted);
  EXPECT_EQ(why.phase, "ShareKeys");
  EXPECT_EQ(why.cohort, 6);
  EXPECT_EQ(why.drops.secagg, 4);
  EXPECT_EQ(why.survivors, 2);  // one left in each group
  EXPECT_NE(why.detail.find("all 2 SecAgg groups aborted: group 0 in "
                            "ShareKeys (1 of 3 left, t=2); group 1"),
            std::string::npos)
      << why.detail;
  EXPECT_EQ(engine_->current_model()->version, 1);
  for (int i : {groups[0][2], groups[1][2]}) {
    ASSERT_TRUE(devices_[i].ack.has_value());
    EXPECT_FALSE(devices_[i].ack->accepted());
  }
}

}  // namespace
}  // namespace cohort::server
