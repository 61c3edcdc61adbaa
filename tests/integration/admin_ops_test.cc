// The operator's day-to-day admin calls end to end: pause and resume, pin
// and promote, and paging through the devices the store remembers, on a
// real cohort-server with a directory store, signing and agents training.
// The fixture is in admin_fixture.h.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cohort/v1/admin.grpc.pb.h"
#include "server/store/directory_store.h"
#include "tests/integration/admin_fixture.h"

namespace cohort::testing {
namespace {

using cohort::v1::Admin;

// Device ids that sort before every agent's ("device-<i>").
constexpr const char* kStoredDevices[] = {"0dev-1", "0dev-2", "0dev-3"};

class AdminOpsTest : public AdminTest {
 protected:
  // Devices the store remembers before the coordinator starts: the i-th
  // seen at 1000 + i with 4 check-ins, 3 accepted reports and 1 rejected.
  void RecordStoredDevices() {
    auto store = server::DirectoryStore::Open(dir_ + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 3; ++i) {
      absl::Status s =
          (*store)->RecordDevice(kStoredDevices[i], 1000 + i, 4, 3, 1);
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  static cohort::v1::StatusResponse StatusOf(Admin::Stub& admin,
                                             const std::string& task) {
    cohort::v1::StatusRequest request;
    request.set_task(task);
    cohort::v1::StatusResponse response;
    const grpc::Status s =
        Call(admin, &Admin::Stub::Status, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  // Empty when the call fails: callers poll or compare.
  static cohort::v1::ListVersionsResponse VersionsOf(Admin::Stub& admin,
                                                     const std::string& task) {
    cohort::v1::ListVersionsRequest request;
    request.set_task(task);
    cohort::v1::ListVersionsResponse response;
    if (!Call(admin, &Admin::Stub::ListVersions, request, &response).ok()) {
      return cohort::v1::ListVersionsResponse();
    }
    return response;
  }

  // The release numbered `release` in the task's log; kind "" if absent.
  static cohort::v1::ReleaseInfo ReleaseOf(Admin::Stub& admin,
                                           const std::string& task,
                                           int64_t release) {
    cohort::v1::ListReleasesRequest request;
    request.set_task(task);
    cohort::v1::ListReleasesResponse response;
    const grpc::Status s =
        Call(admin, &Admin::Stub::ListReleases, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const cohort::v1::ReleaseInfo& r : response.releases()) {
      if (r.release() == release) return r;
    }
    return cohort::v1::ReleaseInfo();
  }

  static std::vector<std::string> DeviceIds(
      Admin::Stub& admin, const cohort::v1::ListDevicesRequest& request) {
    cohort::v1::ListDevicesResponse response;
    const grpc::Status s =
        Call(admin, &Admin::Stub::ListDevices, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& d : response.devices()) ids.push_back(d.device_id());
    return ids;
  }

  void ExpectPauseAndResume(Admin::Stub& admin, const std::string& task,
                            int admin_port);
  void ExpectPinThenPromote(Admin::Stub& admin, const std::string& task,
                            int admin_port);
  void ExpectDevicePages(Admin::Stub& admin, const std::string& task,
                         int admin_port);
};

// Pause (as cohortctl runs it) shows in Status until Resume; both are
// idempotent.
void AdminOpsTest::ExpectPauseAndResume(Admin::Stub& admin,
                                        const std::string& task,
                                        int admin_port) {
  std::string log;
  ASSERT_EQ(Cohortctl({"pause", "--task=" + task, "--reason=maintenance"},
                      admin_port, "operator", &log),
            0)
      << log;
  EXPECT_TRUE(std::regex_search(log, std::regex("paused +yes"))) << log;
  EXPECT_TRUE(StatusOf(admin, task).paused());
  cohort::v1::PauseRequest request;
  request.set_task(task);
  cohort::v1::StatusResponse status;
  ASSERT_TRUE(Call(admin, &Admin::Stub::Pause, request, &status).ok());
  EXPECT_TRUE(status.paused());
  ASSERT_TRUE(Call(admin, &Admin::Stub::Resume, request, &status).ok());
  EXPECT_FALSE(status.paused());
  ASSERT_TRUE(Call(admin, &Admin::Stub::Resume, request, &status).ok());
  EXPECT_FALSE(status.paused());
  EXPECT_FALSE(StatusOf(admin, task).paused());
}

// Pin makes version 2's weights current under a release of kind pin and
// Status says pinned; Promote (as cohortctl runs it) of version 1 ends it.
void AdminOpsTest::ExpectPinThenPromote(Admin::Stub& admin,
                                        const std::string& task,
                                        int admin_port) {
  cohort::v1::RollbackRequest pin;
  pin.set_task(task);
  pin.set_to_version(2);
  pin.set_reason("freeze for review");
  cohort::v1::RollbackResponse pinned;
  const grpc::Status s = Call(admin, &Admin::Stub::Pin, pin, &pinned);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(pinned.version(), 2);
  ASSERT_GT(pinned.release(), 0);
  const cohort::v1::StatusResponse during = StatusOf(admin, task);
  EXPECT_TRUE(during.pinned());
  EXPECT_EQ(during.current_release(), pinned.release());
  const cohort::v1::ReleaseInfo pin_release =
      ReleaseOf(admin, task, pinned.release());
  EXPECT_EQ(pin_release.kind(), "pin");
  EXPECT_EQ(pin_release.actor(), "operator:operator");

  std::string log;
  ASSERT_EQ(Cohortctl({"promote", "--task=" + task, "--to_version=1",
                       "--reason=reviewed"},
                      admin_port, "operator", &log),
            0)
      << log;
  EXPECT_TRUE(std::regex_search(log, std::regex("promoted +version 1")))
      << log;
  const cohort::v1::StatusResponse after = StatusOf(admin, task);
  EXPECT_FALSE(after.pinned());
  EXPECT_GT(after.current_release(), pinned.release());
  const cohort::v1::ReleaseInfo promote_release =
      ReleaseOf(admin, task, pinned.release() + 1);
  EXPECT_EQ(promote_release.kind(), "promote");
  EXPECT_EQ(promote_release.actor(), "operator:operator");
}

// Pages of ListDevices follow `after` and `limit`; cohortctl devices prints
// a page and the --after of the next.
void AdminOpsTest::ExpectDevicePages(Admin::Stub& admin,
                                     const std::string& task,
                                     int admin_port) {
  cohort::v1::ListDevicesRequest request;
  request.set_task(task);
  request.set_limit(2);
  EXPECT_EQ(DeviceIds(admin, request),
            (std::vector<std::string>{"0dev-1", "0dev-2"}));
  request.set_after("0dev-2");
  request.set_limit(1);
  EXPECT_EQ(DeviceIds(admin, request), std::vector<std::string>{"0dev-3"});
  request.set_after("");
  request.set_limit(0);  // the default page: every device here
  const std::vector<std::string> all = DeviceIds(admin, request);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  ASSERT_GE(all.size(), 4u);
  EXPECT_EQ(all[0], "0dev-1");
  // The agents, counted by the engine after their rounds.
  EXPECT_TRUE(absl::StartsWith(all.back(), "device-")) << all.back();
  request.set_limit(-1);
  cohort::v1::ListDevicesResponse refused;
  EXPECT_EQ(Call(admin, &Admin::Stub::ListDevices, request, &refused)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  std::string log;
  ASSERT_EQ(Cohortctl({"devices", "--task=" + task, "--limit=1",
                       "--after=0dev-1"},
                      admin_port, "operator", &log),
            0)
      << log;
  EXPECT_TRUE(std::regex_search(log, std::regex("0dev-2 +1970-01-01")))
      << log;
  EXPECT_NE(log.find("next page: --after=0dev-2"), std::string::npos) << log;
  EXPECT_EQ(log.find("0dev-3"), std::string::npos) << log;
}

TEST_F(AdminOpsTest, OperatorPausesPinsPromotesAndPagesDevices) {
  ASSERT_NO_FATAL_FAILURE(RecordStoredDevices());
  ServerOptions o = DirectoryServer();
  o.task = "admin_ops";
  o.max_rounds = 1000;  // stopped with SIGTERM below
  o.extra = absl::StrCat(SigningConfig(), "\n", AdminConfig());
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int admin_port = AdminPort();
  ASSERT_GT(admin_port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) agents.push_back(StartAgent(i, port, o.task));
  auto admin = AdminStub(admin_port, "operator");
  const bool trained = PollUntil(absl::Seconds(90), [&] {
    return VersionsOf(*admin, o.task).versions_size() >= 3;
  });
  ASSERT_TRUE(trained) << "fewer than 3 versions after 90 s\n"
                       << server->Log();
  const cohort::v1::ListVersionsResponse versions = VersionsOf(*admin, o.task);
  for (const auto& v : versions.versions()) {
    EXPECT_EQ(v.status(), "committed") << "version " << v.version();
  }

  ASSERT_NO_FATAL_FAILURE(ExpectPauseAndResume(*admin, o.task, admin_port));
  ASSERT_NO_FATAL_FAILURE(ExpectPinThenPromote(*admin, o.task, admin_port));
  ASSERT_NO_FATAL_FAILURE(ExpectDevicePages(*admin, o.task, admin_port));
  ASSERT_NO_FATAL_FAILURE(StopCluster(*server, agents));
}

}  // namespace
}  // namespace cohort::testing
