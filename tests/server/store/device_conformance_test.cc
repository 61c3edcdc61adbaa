// The device-listing part of the Store contract (server/store/store.h,
// ListDevices), run against every backend. Part of the store_conformance_test
// binary: the fixture is in store_conformance.h and the suite is instantiated
// in store_conformance_test.cc.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/server/store/store_conformance.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::StoreConformanceTest;

// Ids chosen so that byte order differs from a case-insensitive or
// punctuation-blind collation: '-' < '.' < digits < upper case < '_' < lower.
std::vector<std::string> Ids() {
  return {"phone-2", "Phone-1", "phone-10", "a.b", "a-b",
          "a_b",     "Z9",      "0dev",     "phone-1"};
}

std::vector<std::string> Sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> IdsOf(const std::vector<DeviceRecord>& devices) {
  std::vector<std::string> out;
  for (const DeviceRecord& d : devices) out.push_back(d.device_id);
  return out;
}

// Records every id of Ids(), the i-th seen at 1000 + i with i + 1 check-ins,
// one accepted report and i rejected ones.
void RecordAll(Store& store) {
  const std::vector<std::string> ids = Ids();
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t n = static_cast<int64_t>(i);
    absl::Status s = store.RecordDevice(ids[i], 1000 + n, n + 1, 1, n);
    ASSERT_TRUE(s.ok()) << s;
  }
}

// Every page from the start with `limit`, concatenated; checks that no page
// is longer than `limit` and that paging ends.
std::vector<std::string> PageThrough(Store& store, int limit) {
  std::vector<std::string> all;
  std::string after;
  for (size_t pages = 0; pages <= Ids().size() + 1; ++pages) {
    auto page = store.ListDevices(after, limit);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return all;
    EXPECT_LE(page->size(), static_cast<size_t>(limit));
    for (const DeviceRecord& d : *page) all.push_back(d.device_id);
    if (page->size() < static_cast<size_t>(limit)) return all;
    after = page->back().device_id;
  }
  ADD_FAILURE() << "paging with limit " << limit << " did not end";
  return all;
}

TEST_P(StoreConformanceTest, ListDevicesOfEmptyStoreIsEmpty) {
  auto devices = store_->ListDevices("", 10);
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_TRUE(devices->empty());
}

TEST_P(StoreConformanceTest, ListDevicesIsInByteOrder) {
  ASSERT_NO_FATAL_FAILURE(RecordAll(*store_));
  ASSERT_TRUE(store_->RecordDevice("phone-2", 5000, 2, 0, 1).ok());
  auto devices = store_->ListDevices("", 100);
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_EQ(IdsOf(*devices), Sorted(Ids()));
  for (const DeviceRecord& d : *devices) {
    auto single = store_->GetDevice(d.device_id);
    ASSERT_TRUE(single.ok()) << single.status();
    EXPECT_EQ(d.last_seen_unix_ms, single->last_seen_unix_ms) << d.device_id;
    EXPECT_EQ(d.check_ins, single->check_ins) << d.device_id;
    EXPECT_EQ(d.reports_accepted, single->reports_accepted) << d.device_id;
    EXPECT_EQ(d.reports_rejected, single->reports_rejected) << d.device_id;
  }
  // Ids()[0] is "phone-2": 1 check-in at 1000, then 2 more at 5000.
  auto it = std::find_if(devices->begin(), devices->end(),
                         [](const DeviceRecord& d) {
                           return d.device_id == "phone-2";
                         });
  ASSERT_NE(it, devices->end());
  EXPECT_EQ(it->last_seen_unix_ms, 5000);
  EXPECT_EQ(it->check_ins, 3);
  EXPECT_EQ(it->reports_accepted, 1);
  EXPECT_EQ(it->reports_rejected, 1);
}

TEST_P(StoreConformanceTest, ListDevicesPagesVisitEachOnce) {
  ASSERT_NO_FATAL_FAILURE(RecordAll(*store_));
  const int n = static_cast<int>(Ids().size());
  for (int limit = 1; limit <= n + 1; ++limit) {
    SCOPED_TRACE(absl::StrCat("limit ", limit));
    EXPECT_EQ(PageThrough(*store_, limit), Sorted(Ids()));
  }
}

TEST_P(StoreConformanceTest, ListDevicesAfterIsExclusive) {
  ASSERT_NO_FATAL_FAILURE(RecordAll(*store_));
  auto from_known = store_->ListDevices("phone-1", 100);
  ASSERT_TRUE(from_known.ok()) << from_known.status();
  EXPECT_EQ(IdsOf(*from_known),
            (std::vector<std::string>{"phone-10", "phone-2"}));
  auto from_unknown = store_->ListDevices("phone-15", 1);
  ASSERT_TRUE(from_unknown.ok()) << from_unknown.status();
  EXPECT_EQ(IdsOf(*from_unknown), std::vector<std::string>{"phone-2"});
  auto past_the_end = store_->ListDevices("zzz", 100);
  ASSERT_TRUE(past_the_end.ok()) << past_the_end.status();
  EXPECT_TRUE(past_the_end->empty());
}

TEST_P(StoreConformanceTest, ListDevicesBadPageIsInvalid) {
  ASSERT_TRUE(store_->RecordDevice("phone-1", 1, 1, 0, 0).ok());
  for (int limit : {0, -1}) {
    EXPECT_EQ(store_->ListDevices("", limit).status().code(),
              StatusCode::kInvalidArgument)
        << "limit " << limit;
  }
  const std::string bad_after[] = {"../x", "a b", "-flag",
                                   std::string("a\0b", 3), "caf\xc3\xa9",
                                   std::string(129, 'a')};
  for (const std::string& after : bad_after) {
    EXPECT_EQ(store_->ListDevices(after, 10).status().code(),
              StatusCode::kInvalidArgument)
        << "after \"" << after << "\"";
  }
}

TEST_P(StoreConformanceTest, ListDevicesSurvivesReopen) {
  ASSERT_NO_FATAL_FAILURE(RecordAll(*store_));
  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  auto devices = store_->ListDevices("", 100);
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_EQ(IdsOf(*devices), Sorted(Ids()));
}

}  // namespace
}  // namespace cohort::server
