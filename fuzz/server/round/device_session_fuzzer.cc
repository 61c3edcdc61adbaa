// The device API's requests on a live round engine. DeviceSession is the
// transport-free half of the gRPC Participate stream; here up to four
// conversations at a time send it CheckIn, Report and SecAgg+ messages
// decoded from the input, in plain or secure rounds, while the fake clock
// moves and the engine's loop commits, abandons and opens rounds. Each input
// starts a fresh engine on a fresh directory store, with synchronous or
// buffered (FedBuff) rounds.
//
// Besides "no crash": every version the engine publishes keeps the initial
// model's tensors and shapes and holds only finite values, and the round id
// and the count of committed rounds never go down.

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/model/weights_util.h"
#include "fuzz/server/round/engine_fuzz_util.h"
#include "server/round/device_channel.h"
#include "server/round/device_session.h"
#include "server/round/round_engine.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"

namespace {

using cohort::server::DeviceSession;
using cohort::server::RoundEngine;

constexpr int kSessions = 4;

cohort::server::RoundOptions Options(FuzzedDataProvider& in) {
  cohort::server::RoundOptions o = cohort::fuzz::FuzzRoundOptions(in, 4);
  o.int8_artifacts = in.ConsumeBool();
  if (o.goal_count >= 2 && o.min_reports >= 2 && in.ConsumeBool()) {
    o.secagg.enabled = true;
  }
  if (in.ConsumeBool()) {
    // Buffered rounds (FedBuff): assignments outlive their buffer.
    o.buffered = cohort::server::BufferedOptions{
        .concurrency = in.ConsumeIntegralInRange(o.goal_count, 6),
        .max_staleness = in.ConsumeIntegralInRange(0, 3),
        .staleness_exponent = 0.5};
  }
  return o;
}

cohort::v1::CheckIn MakeCheckIn(FuzzedDataProvider& in) {
  cohort::v1::CheckIn c;
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    c.ParseFromString(in.ConsumeRandomLengthString(256));
  } else {
    c.set_device_id(absl::StrCat("d", in.ConsumeIntegralInRange(0, 5)));
    c.set_population("t");
  }
  return c;
}

cohort::v1::Report MakeReport(FuzzedDataProvider& in,
                              const cohort::testing::FakeTaskModel& model,
                              int64_t round_id) {
  cohort::v1::Report r;
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    r.ParseFromString(in.ConsumeRandomLengthString(512));
    return r;
  }
  // Mostly the open round, so that rounds fill and commit.
  r.set_round_id(in.ConsumeBool() ? round_id
                                  : round_id + in.ConsumeIntegralInRange(-1, 1));
  *r.mutable_delta() = model.Filled(0.0f);
  std::vector<float> values(4);
  for (float& v : values) v = in.ConsumeFloatingPoint<float>();
  cohort::model::SetFloatData(values, r.mutable_delta()->mutable_tensors(0));
  r.set_num_examples(in.ConsumeIntegralInRange<int64_t>(-2, 2000));
  r.set_train_loss(in.ConsumeFloatingPoint<double>());
  return r;
}

cohort::v1::SecAggClientMessage MakeSecAgg(FuzzedDataProvider& in,
                                           int64_t round_id) {
  cohort::v1::SecAggClientMessage m;
  if (in.ConsumeBool()) {
    m.mutable_ready()->set_round_id(round_id);
  } else {
    m.ParseFromString(in.ConsumeRandomLengthString(1024));
  }
  return m;
}

void Run(FuzzedDataProvider& in, const std::string& dir) {
  cohort::fuzz::FuzzEngine fuzz(dir, Options(in));
  RoundEngine& engine = fuzz.engine();
  cohort::server::LiveDevices live;
  std::array<std::unique_ptr<DeviceSession>, kSessions> sessions;
  auto channel = std::make_shared<cohort::fuzz::DroppingChannel>();
  int64_t round_id = engine.round_id();
  int64_t committed = engine.rounds_committed();
  for (int step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    auto& session = sessions[in.ConsumeIntegralInRange(0, kSessions - 1)];
    switch (in.ConsumeIntegralInRange(0, 6)) {
      case 0:
        session = std::make_unique<DeviceSession>(&engine, &live, "");
        (void)session->CheckIn(MakeCheckIn(in));
        break;
      case 1:
        if (session) (void)session->Report(MakeReport(in, fuzz.model(), round_id));
        break;
      case 2:
        if (session) (void)session->SecAgg(MakeSecAgg(in, round_id), channel);
        break;
      case 3:
        session.reset();  // the stream ended: End() drops an open assignment
        break;
      case 4:
        if (session) session->Answered();
        break;
      case 5:
        fuzz.clock().Advance(absl::Milliseconds(in.ConsumeIntegralInRange(0, 10000)));
        [[fallthrough]];
      default:
        engine.RunOnce();
        fuzz.Check();
        if (engine.round_id() < round_id) std::abort();
        if (engine.rounds_committed() < committed) std::abort();
        round_id = engine.round_id();
        committed = engine.rounds_committed();
        break;
    }
  }
  for (auto& s : sessions) s.reset();
  engine.RunOnce();
  fuzz.Check();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cohort::fuzz::RunInFreshDir("device-session-fuzz", data, size, Run);
}
