#include "server/api/coordinator_service.h"

#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/sha256.h"
#include "common/model/delta.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/api/front_door.h"
#include "server/round/leadership.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"

namespace cohort::server {
namespace {

// Remembers what the device API counted.
class RecordingCounters final : public DeviceApiCounters {
 public:
  void CheckIn(absl::string_view result) override {
    absl::MutexLock lock(&mu_);
    ++check_ins_[std::string(result)];
  }
  void Rejected(absl::string_view kind, absl::string_view reason) override {
    absl::MutexLock lock(&mu_);
    ++rejected_[absl::StrCat(kind, "/", reason)];
  }
  void Bytes(absl::string_view rpc, absl::string_view direction,
             int64_t bytes) override {
    absl::MutexLock lock(&mu_);
    bytes_[absl::StrCat(rpc, "/", direction)] += bytes;
  }
  int CheckIns(const std::string& result) {
    absl::MutexLock lock(&mu_);
    return check_ins_[result];
  }
  int Rejections(const std::string& kind_reason) {
    absl::MutexLock lock(&mu_);
    return rejected_[kind_reason];
  }
  int64_t BytesOf(const std::string& rpc_direction) {
    absl::MutexLock lock(&mu_);
    return bytes_[rpc_direction];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> check_ins_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> rejected_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> bytes_ ABSL_GUARDED_BY(mu_);
};

// The service over an in-process channel: no sockets, same reactors.
class CoordinatorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/service_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    store_ = std::move(*DirectoryStore::Open(root_));
    options_.task = "t";
    options_.goal_count = 1;
    options_.min_reports = 1;
    engine_ =
        std::make_unique<RoundEngine>(options_, store_.get(), &model_, &clock_);
    // A standby serves devices before its engine starts.
    if (standby_reason_.empty()) {
      ASSERT_TRUE(engine_->Start().ok());
    } else {
      leadership_.StandBy(standby_reason_);
    }
    service_ = std::make_unique<CoordinatorService>(
        engine_.get(), &counters_, nullptr, StreamDeadlines{}, &leadership_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = cohort::v1::Coordinator::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override { server_->Shutdown(); }

  // The streamed bytes; `first` (if set) gets the first chunk.
  std::string Fetch(int64_t version, int64_t offset, grpc::Status* status,
                    int* chunks, int64_t base_version = 0,
                    cohort::v1::ModelChunk* first = nullptr) {
    grpc::ClientContext ctx;
    cohort::v1::FetchModelRequest req;
    req.set_version(version);
    req.set_offset(offset);
    req.set_base_version(base_version);
    auto reader = stub_->FetchModel(&ctx, req);
    cohort::v1::ModelChunk chunk;
    std::string bytes;
    *chunks = 0;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), offset + static_cast<int64_t>(bytes.size()));
      EXPECT_LE(chunk.data().size(), size_t{CoordinatorService::kChunkBytes});
      if (*chunks == 0 && first != nullptr) *first = chunk;
      bytes += chunk.data();
      ++*chunks;
    }
    *status = reader->Finish();
    return bytes;
  }

  // One device reports `value` everywhere and the round commits.
  void CommitRound(float value) {
    grpc::ClientContext ctx;
    auto stream = stub_->Participate(&ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id("d1");
    ASSERT_TRUE(stream->Write(hello));
    cohort::v1::ServerMessage reply;
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_TRUE(reply.has_task_assignment());
    cohort::v1::ClientMessage msg;
    msg.mutable_report()->set_round_id(reply.task_assignment().round_id());
    *msg.mutable_report()->mutable_delta() = model_.Filled(value);
    msg.mutable_report()->set_num_examples(10);
    ASSERT_TRUE(stream->Write(msg));
    ASSERT_TRUE(stream->Read(&reply));
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
    engine_->RunOnce();
  }

  std::string root_;
  std::string standby_reason_;  // set before SetUp: stand by
  Leadership leadership_{absl::Seconds(1), absl::Seconds(3)};
  std::unique_ptr<DirectoryStore> store_;
  RoundOptions options_;
  cohort::testing::FakeTaskModel model_{700000};  // 2.8 MB: three chunks
  cohort::testing::FakeClock clock_;
  RecordingCounters counters_;
  std::unique_ptr<RoundEngine> engine_;
  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cohort::v1::Coordinator::Stub> stub_;
};

// A coordinator standing by while another leads its task: check-ins get a
// RetryWindow with cause "standby" and FetchModel UNAVAILABLE, without
// touching the engine, which has not started; once it leads, devices are
// served as usual.
class StandbyServiceTest : public CoordinatorServiceTest {
 protected:
  void SetUp() override {
    standby_reason_ = "task t is led by b:7 (epoch 2)";
    CoordinatorServiceTest::SetUp();
  }

  cohort::v1::ServerMessage CheckIn(const std::string& device) {
    grpc::ClientContext ctx;
    auto stream = stub_->Participate(&ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id(device);
    EXPECT_TRUE(stream->Write(hello));
    cohort::v1::ServerMessage reply;
    EXPECT_TRUE(stream->Read(&reply));
    ctx.TryCancel();
    stream->Finish();
    return reply;
  }
};

TEST_F(StandbyServiceTest, StandbyTurnsDevicesAwayUntilItLeads) {
  cohort::v1::ServerMessage reply = CheckIn("d1");
  ASSERT_TRUE(reply.has_retry_window()) << reply.ShortDebugString();
  EXPECT_EQ(reply.retry_window().cause(), "standby");
  EXPECT_EQ(reply.retry_window().reason(), standby_reason_);
  EXPECT_EQ(reply.retry_window().min_delay_ms(), 1000);
  EXPECT_EQ(reply.retry_window().max_delay_ms(), 3000);
  EXPECT_EQ(counters_.CheckIns("standby"), 1);
  grpc::Status status;
  int chunks = 0;
  EXPECT_TRUE(Fetch(0, 0, &status, &chunks).empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("led by b:7"), std::string::npos)
      << status.error_message();

  ASSERT_TRUE(engine_->Start().ok());
  leadership_.Lead();
  EXPECT_TRUE(CheckIn("d2").has_task_assignment());
  EXPECT_FALSE(Fetch(0, 0, &status, &chunks).empty());
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(CoordinatorServiceTest, FetchModelStreamsChunksAndResumesAtOffset) {
  grpc::Status status;
  int chunks = 0;
  std::string full = Fetch(1, 0, &status, &chunks);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(chunks, 3);
  EXPECT_EQ(crypto::Sha256Hex(full), engine_->current_model()->sha256);
  const int64_t cut = 1500000;
  std::string tail = Fetch(1, cut, &status, &chunks);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(full.substr(cut), tail);
}

TEST_F(CoordinatorServiceTest, FetchModelRejectsBadOffsetAndUnknownVersion) {
  grpc::Status status;
  int chunks = 0;
  Fetch(1, -1, &status, &chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  Fetch(1, int64_t{1} << 40, &status, &chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  Fetch(99, 0, &status, &chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CoordinatorServiceTest, FetchModelFromAHeldVersionStreamsASmallerDelta) {
  grpc::Status status;
  int chunks = 0;
  const std::string v1 = Fetch(1, 0, &status, &chunks);
  ASSERT_TRUE(status.ok()) << status.error_message();
  CommitRound(0.5f);
  ASSERT_EQ(engine_->current_model()->version, 2);
  const std::string v2 = engine_->current_model()->bytes;
  ASSERT_NE(v1, v2);

  cohort::v1::ModelChunk first;
  const std::string delta = Fetch(2, 0, &status, &chunks, 1, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(first.encoding(), cohort::v1::ModelChunk::ZSTD_DELTA);
  EXPECT_EQ(first.base_version(), 1);
  EXPECT_EQ(first.total_size(), static_cast<int64_t>(delta.size()));
  EXPECT_EQ(first.artifact_size(), static_cast<int64_t>(v2.size()));
  EXPECT_EQ(first.sha256(), crypto::Sha256Hex(v2));
  EXPECT_LT(delta.size(), v2.size() / 10);
  auto rebuilt = model::ApplyDelta(v1, delta, first.artifact_size());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(*rebuilt, v2);

  // The same request gets the same stream, so a download resumes in it.
  const int64_t cut = static_cast<int64_t>(delta.size() / 2);
  EXPECT_EQ(Fetch(2, cut, &status, &chunks, 1), delta.substr(cut));
  EXPECT_TRUE(status.ok());
}

TEST_F(CoordinatorServiceTest, FetchModelFromNoServedOtherVersionIsFull) {
  CommitRound(0.5f);
  const std::string v2 = engine_->current_model()->bytes;
  for (int64_t base : {int64_t{0}, int64_t{2}, int64_t{99}, int64_t{-1}}) {
    grpc::Status status;
    int chunks = 0;
    cohort::v1::ModelChunk first;
    EXPECT_EQ(Fetch(2, 0, &status, &chunks, base, &first), v2) << base;
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(first.encoding(), cohort::v1::ModelChunk::FULL) << base;
    EXPECT_EQ(first.total_size(), static_cast<int64_t>(v2.size()));
    EXPECT_EQ(first.artifact_size(), static_cast<int64_t>(v2.size()));
  }
}

TEST_F(CoordinatorServiceTest, ParticipateAssignsAcceptsReportAndCommits) {
  grpc::ClientContext ctx;
  auto stream = stub_->Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id("d1");
  hello.mutable_check_in()->set_population("t");
  ASSERT_TRUE(stream->Write(hello));
  cohort::v1::ServerMessage reply;
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(reply.has_task_assignment());
  EXPECT_EQ(reply.task_assignment().model().version(), 1);
  cohort::v1::ClientMessage msg;
  auto* report = msg.mutable_report();
  report->set_round_id(reply.task_assignment().round_id());
  *report->mutable_delta() = model_.Filled(0.5f);
  report->set_num_examples(10);
  ASSERT_TRUE(stream->Write(msg));
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(reply.has_ack());
  EXPECT_TRUE(reply.ack().accepted());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  engine_->RunOnce();
  EXPECT_EQ(engine_->current_model()->version, 2);
}

TEST_F(CoordinatorServiceTest,
       ParticipateRejectsWrongPopulationAndBadIdentity) {
  for (auto [id, population, code] :
       {std::tuple{"d1", "other", grpc::StatusCode::FAILED_PRECONDITION},
        std::tuple{"", "t", grpc::StatusCode::INVALID_ARGUMENT},
        std::tuple{"bad/id", "t", grpc::StatusCode::INVALID_ARGUMENT}}) {
    grpc::ClientContext ctx;
    auto stream = stub_->Participate(&ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id(id);
    hello.mutable_check_in()->set_population(population);
    stream->Write(hello);
    stream->WritesDone();
    EXPECT_EQ(stream->Finish().error_code(), code) << id << " " << population;
  }
  EXPECT_EQ(engine_->phase(), RoundPhase::kSelecting);
}

TEST_F(CoordinatorServiceTest, StreamEndingAfterAssignmentFreesTheSlot) {
  {
    grpc::ClientContext ctx;
    auto stream = stub_->Participate(&ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id("d1");
    ASSERT_TRUE(stream->Write(hello));
    cohort::v1::ServerMessage reply;
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_TRUE(reply.has_task_assignment());
    EXPECT_EQ(engine_->assigned_count(), 1);
    stream->WritesDone();
    stream->Finish();
  }
  for (int i = 0; i < 200 && engine_->assigned_count() != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(engine_->assigned_count(), 0);
  EXPECT_EQ(engine_->phase(), RoundPhase::kSelecting);
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

TEST_F(CoordinatorServiceTest, NanReportIsInvalidArgumentAndOthersGoOn) {
  auto open = [&](const std::string& id, grpc::ClientContext* ctx,
                  cohort::v1::ServerMessage* reply) {
    auto stream = stub_->Participate(ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id(id);
    EXPECT_TRUE(stream->Write(hello));
    EXPECT_TRUE(stream->Read(reply));
    return stream;
  };
  grpc::ClientContext bad_ctx, good_ctx;
  cohort::v1::ServerMessage bad_reply, good_reply;
  auto bad = open("bad", &bad_ctx, &bad_reply);
  auto good = open("good", &good_ctx, &good_reply);
  ASSERT_TRUE(bad_reply.has_task_assignment());
  ASSERT_TRUE(good_reply.has_task_assignment());

  cohort::v1::ClientMessage msg;
  msg.mutable_report()->set_round_id(bad_reply.task_assignment().round_id());
  *msg.mutable_report()->mutable_delta() =
      model_.Filled(std::numeric_limits<float>::quiet_NaN());
  msg.mutable_report()->set_num_examples(5);
  bad->Write(msg);
  bad->WritesDone();
  grpc::Status s = bad->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("NaN"), std::string::npos);

  *msg.mutable_report()->mutable_delta() = model_.Filled(0.25f);
  ASSERT_TRUE(good->Write(msg));
  cohort::v1::ServerMessage ack;
  ASSERT_TRUE(good->Read(&ack));
  EXPECT_TRUE(ack.ack().accepted());
  good->WritesDone();
  EXPECT_TRUE(good->Finish().ok());
  engine_->RunOnce();
  EXPECT_EQ(engine_->current_model()->version, 2);
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

// Check-ins by result, refused messages by kind and reason, and the bytes
// each RPC moved reach the counters the metrics port exports.
TEST_F(CoordinatorServiceTest, CountsCheckInsRejectionsAndBytes) {
  grpc::ClientContext wrong_ctx;
  auto wrong = stub_->Participate(&wrong_ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id("d9");
  hello.mutable_check_in()->set_population("other");
  const int64_t wrong_bytes = static_cast<int64_t>(hello.ByteSizeLong());
  wrong->Write(hello);
  wrong->WritesDone();
  EXPECT_FALSE(wrong->Finish().ok());

  grpc::ClientContext ctx;
  auto stream = stub_->Participate(&ctx);
  hello.mutable_check_in()->set_device_id("d1");
  hello.mutable_check_in()->clear_population();
  ASSERT_TRUE(stream->Write(hello));
  cohort::v1::ServerMessage reply;
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(reply.has_task_assignment());
  const int64_t hello_bytes = static_cast<int64_t>(hello.ByteSizeLong());
  const int64_t reply_bytes = static_cast<int64_t>(reply.ByteSizeLong());
  cohort::v1::ClientMessage msg;
  msg.mutable_report()->set_round_id(reply.task_assignment().round_id());
  *msg.mutable_report()->mutable_delta() =
      model_.Filled(std::numeric_limits<float>::quiet_NaN());
  msg.mutable_report()->set_num_examples(5);
  stream->Write(msg);
  stream->WritesDone();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::Status status;
  int chunks = 0;
  const std::string artifact = Fetch(1, 0, &status, &chunks);
  ASSERT_TRUE(status.ok()) << status.error_message();

  EXPECT_EQ(counters_.CheckIns("refused"), 1);
  EXPECT_EQ(counters_.CheckIns("assigned"), 1);
  EXPECT_EQ(counters_.Rejections("report/malformed"), 1);
  EXPECT_EQ(counters_.Rejections("report/late"), 0);
  // Both check-ins and the report came in; the assignment went out.
  EXPECT_EQ(
      counters_.BytesOf("participate/in"),
      wrong_bytes + hello_bytes + static_cast<int64_t>(msg.ByteSizeLong()));
  EXPECT_EQ(counters_.BytesOf("participate/out"), reply_bytes);
  // The chunks carry the artifact plus a little framing each.
  EXPECT_GE(counters_.BytesOf("fetch_model/out"),
            static_cast<int64_t>(artifact.size()));
  EXPECT_LT(counters_.BytesOf("fetch_model/out"),
            static_cast<int64_t>(artifact.size()) + 1000 * chunks);
  EXPECT_GT(counters_.BytesOf("fetch_model/in"), 0);
}

// A second check-in of a device that holds this round's assignment gets a
// retry window with the machine-readable cause, counted as such.
TEST_F(CoordinatorServiceTest, RetryWindowCarriesItsCause) {
  auto check_in = [&](grpc::ClientContext* ctx,
                      cohort::v1::ServerMessage* reply) {
    auto stream = stub_->Participate(ctx);
    cohort::v1::ClientMessage hello;
    hello.mutable_check_in()->set_device_id("d1");
    EXPECT_TRUE(stream->Write(hello));
    EXPECT_TRUE(stream->Read(reply));
    return stream;
  };
  grpc::ClientContext first_ctx, second_ctx;
  cohort::v1::ServerMessage first, second;
  auto holder = check_in(&first_ctx, &first);
  ASSERT_TRUE(first.has_task_assignment());
  auto again = check_in(&second_ctx, &second);
  ASSERT_TRUE(second.has_retry_window());
  EXPECT_EQ(second.retry_window().cause(), "already_assigned");
  EXPECT_EQ(counters_.CheckIns("already_assigned"), 1);
  EXPECT_EQ(counters_.CheckIns("assigned"), 1);
  first_ctx.TryCancel();
  second_ctx.TryCancel();
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

// What a check-in on a new stream of `stub` ended with: OK when answered.
grpc::StatusCode CheckInCode(cohort::v1::Coordinator::Stub& stub,
                             const std::string& device) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub.Participate(&ctx);
  cohort::v1::ClientMessage hello;
  hello.mutable_check_in()->set_device_id(device);
  stream->Write(hello);
  cohort::v1::ServerMessage reply;
  if (stream->Read(&reply)) {
    ctx.TryCancel();
    stream->Finish();
    return grpc::StatusCode::OK;
  }
  return stream->Finish().error_code();
}

// Behind the front door, as in cohort-server, each device connection is its
// own source: one over its check-in rate is refused at once while another
// connection is served, which only holds if gRPC's peer still names the
// device's address through the relay.
TEST_F(CoordinatorServiceTest, CheckInRateIsPerDeviceConnectionThroughTheDoor) {
  testing::FakeClock frozen;  // no refill during the test
  CheckInLimiter limiter({.per_second = 1, .burst = 2}, &frozen);
  CoordinatorService limited(engine_.get(), &counters_, nullptr,
                             StreamDeadlines{}, &leadership_, &limiter);
  const std::string socket = root_ + ".sock";
  std::filesystem::remove(socket);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&limited);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto door = FrontDoor::Listen("127.0.0.1:0", socket, FrontDoorOptions{});
  ASSERT_TRUE(door.ok()) << door.status();
  (*door)->Start();
  auto connect = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
    return cohort::v1::Coordinator::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", (*door)->port()),
        grpc::InsecureChannelCredentials(), args));
  };
  auto first = connect();
  auto second = connect();
  EXPECT_EQ(CheckInCode(*first, "a1"), grpc::StatusCode::OK);
  EXPECT_EQ(CheckInCode(*first, "a2"), grpc::StatusCode::OK);
  EXPECT_EQ(CheckInCode(*first, "a3"), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(counters_.CheckIns("rate_limited"), 1);
  EXPECT_EQ(CheckInCode(*second, "b1"), grpc::StatusCode::OK);
  EXPECT_EQ(CheckInCode(*second, "b2"), grpc::StatusCode::OK);
  EXPECT_EQ(CheckInCode(*second, "b3"), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Model downloads are not check-ins.
  grpc::ClientContext ctx;
  cohort::v1::FetchModelRequest req;
  req.set_version(1);
  cohort::v1::ModelChunk chunk;
  auto reader = first->FetchModel(&ctx, req);
  EXPECT_TRUE(reader->Read(&chunk));
  ctx.TryCancel();
  reader->Finish();
  (*door)->Stop();
  server->Shutdown();
}

}  // namespace
}  // namespace cohort::server
