// Hierarchical secure aggregation through the RoundEngine: a cohort larger
// than max_group_size runs several SecAgg+ instances, adds their sums, and
// leaves out a group that aborts instead of the round.

#include <algorithm>
#include <string>
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
};

// 9 devices in groups of 3 (device-0..2, 3..5, 6..8; each group the
// complete graph with t = 2). Two of group 1 leave after their keys, so that
// group keeps 1 < t and aborts; the round commits exactly the other two
// groups' inputs.
TEST_F(SecureRoundGroupsTest, AddsGroupSumsAndLeavesOutAGroupPastItsThreshold) {
  options_.secagg.max_group_size = 3;
  StartEngine(9);
  Train({0.1f, 0.2f, 0.3f, 0.9f, 0.9f, 0.9f, 0.4f, 0.5f, 0.6f},
        {10, 20, 30, 40, 50, 60, 70, 80, 90});
  PumpDroppingAfterKeys({"device-3", "device-4"});
  if (summaries_.empty()) {
    clock_.Advance(absl::Seconds(31));  // group 1's ShareKeys deadline
    Pump();
  }
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(summaries_[0].participants, 6);
  EXPECT_EQ(summaries_[0].total_examples, 10 + 20 + 30 + 70 + 80 + 90);
  // Nothing of group 1 (0.9) is in the mean.
  const double expected =
      (0.1 * 10 + 0.2 * 20 + 0.3 * 30 + 0.4 * 70 + 0.5 * 80 + 0.6 * 90) / 300;
  EXPECT_NEAR(CurrentValue(), expected, 1e-3);
  EXPECT_NEAR(summaries_[0].train_loss, 0.5, 1e-3);
  EXPECT_EQ(summaries_[0].drops.secagg, 3);  // all of group 1
  for (int i : {0, 1, 2, 6, 7, 8}) {
    ASSERT_TRUE(devices_[i].ack.has_value()) << i;
    EXPECT_TRUE(devices_[i].ack->accepted()) << i;
  }
  // The group's survivor learns that its group released nothing.
  ASSERT_TRUE(devices_[5].ack.has_value());
  EXPECT_FALSE(devices_[5].ack->accepted());
  EXPECT_NE(devices_[5].ack->message().find("aborted"), std::string::npos)
      << devices_[5].ack->message();
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
  PumpDroppingAfterKeys({"device-0", "device-1", "device-3", "device-4"});
  clock_.Advance(absl::Seconds(31));
  Pump();
  EXPECT_TRUE(summaries_.empty());
  ASSERT_EQ(abandoned_.size(), 1u);
  const AbandonReason& why = *abandoned_[0].abandoned;
  EXPECT_EQ(why.cause, AbandonCause::kSecAggAborted);
  EXPECT_EQ(why.phase, "ShareKeys");
  EXPECT_EQ(why.cohort, 6);
  EXPECT_EQ(why.drops.secagg, 4);
  EXPECT_NE(why.detail.find("all 2 SecAgg groups aborted"), std::string::npos)
      << why.detail;
  EXPECT_EQ(engine_->current_model()->version, 1);
  for (int i : {2, 5}) {
    ASSERT_TRUE(devices_[i].ack.has_value());
    EXPECT_FALSE(devices_[i].ack->accepted());
  }
}

}  // namespace
}  // namespace cohort::server
