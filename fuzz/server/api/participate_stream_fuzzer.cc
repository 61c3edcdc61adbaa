// The device API through gRPC itself: a real gRPC server with Cohort's
// CoordinatorService on a Unix socket, in front of a live round engine,
// and up to three Participate streams (and FetchModel calls) driven by the
// input. Where device_session_fuzzer calls the transport-free session, this
// one goes through the reactor: message framing and parsing, a message over
// the size limit, writes after a half-close, streams cancelled mid-message,
// the check-in deadline's alarm, several streams of one device at once.
// Each input starts a fresh engine, store and server. gRPC itself is not
// instrumented; Cohort's reactor, service and engine are.
//
// Besides "no crash and no leak": no call ends UNKNOWN or INTERNAL (an
// unexplained failure), every published version keeps the initial layout
// and finite values, and after the input's streams are gone a well-formed
// device still gets an answer to its CheckIn.

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "fuzz/server/round/engine_fuzz_util.h"
#include "grpcpp/grpcpp.h"
#include "server/api/coordinator_service.h"
#include "server/round/round_engine.h"
#include "server/store/directory_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_task_model.h"

namespace {

using cohort::v1::ClientMessage;
using cohort::v1::ServerMessage;
using Stub = cohort::v1::Coordinator::Stub;

constexpr int kStreams = 3;
// The server's message limit, small enough for the input to exceed.
constexpr int kMaxMessageBytes = 4096;

// A call that ended UNKNOWN or INTERNAL is a finding.
void CheckStatus(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNKNOWN ||
      s.error_code() == grpc::StatusCode::INTERNAL) {
    std::abort();
  }
}

std::chrono::system_clock::time_point In(int ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

// One Participate stream; a thread drains what the server sends. gRPC's
// client allows no write after WritesDone (it aborts), so the stream
// remembers its half-close.
struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<ClientMessage, ServerMessage>> rw;
  std::thread reader;
  bool half_closed = false;

  void Write(const ClientMessage& m) {
    if (!half_closed) rw->Write(m);
  }
  void WritesDone() {
    if (!half_closed) rw->WritesDone();
    half_closed = true;
  }

  explicit Stream(Stub& stub) {
    context.set_deadline(In(5000));
    rw = stub.Participate(&context);
    reader = std::thread([this] {
      ServerMessage m;
      while (rw->Read(&m)) {
      }
    });
  }
  ~Stream() {
    context.TryCancel();
    reader.join();
    CheckStatus(rw->Finish());
  }
};

cohort::server::RoundOptions Options(FuzzedDataProvider& in) {
  cohort::server::RoundOptions o = cohort::fuzz::FuzzRoundOptions(in, 3);
  o.secagg.enabled = o.min_reports >= 2 && in.ConsumeBool();
  return o;
}

// A message for the stream: mostly well-formed check-ins and reports for
// the open round, else whatever the input's bytes parse to.
ClientMessage MakeMessage(FuzzedDataProvider& in,
                          const cohort::testing::FakeTaskModel& model,
                          int64_t round_id) {
  ClientMessage m;
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {
      auto* c = m.mutable_check_in();
      c->set_device_id(absl::StrCat("d", in.ConsumeIntegralInRange(0, 3)));
      c->set_population("t");
      break;
    }
    case 1: {
      auto* r = m.mutable_report();
      r->set_round_id(round_id + in.ConsumeIntegralInRange(-1, 0));
      *r->mutable_delta() = model.Filled(in.ConsumeFloatingPoint<float>());
      r->set_num_examples(in.ConsumeIntegralInRange<int64_t>(-1, 100));
      break;
    }
    case 2:
      m.mutable_secagg()->mutable_ready()->set_round_id(round_id);
      break;
    default:
      m.ParseFromString(in.ConsumeRandomLengthString(2 * kMaxMessageBytes));
      break;
  }
  return m;
}

// A FetchModel call, its request from the input; the stream read to its end.
void Fetch(FuzzedDataProvider& in, Stub& stub) {
  cohort::v1::FetchModelRequest request;
  request.ParseFromString(in.ConsumeRandomLengthString(128));
  grpc::ClientContext context;
  context.set_deadline(In(5000));
  auto reader = stub.FetchModel(&context, request);
  cohort::v1::ModelChunk chunk;
  while (reader->Read(&chunk)) {
  }
  CheckStatus(reader->Finish());
}

// A well-formed device checks in on a fresh stream and is answered; with a
// check-in deadline of a few milliseconds, the stream may instead end
// DEADLINE_EXCEEDED before its CheckIn arrives.
void CheckAnswered(Stub& stub, bool may_time_out) {
  grpc::ClientContext context;
  context.set_deadline(In(5000));
  auto rw = stub.Participate(&context);
  ClientMessage m;
  m.mutable_check_in()->set_device_id("probe");
  m.mutable_check_in()->set_population("t");
  ServerMessage answer;
  if (rw->Write(m) && rw->Read(&answer)) {
    if (!answer.has_task_assignment() && !answer.has_retry_window()) std::abort();
    context.TryCancel();
    CheckStatus(rw->Finish());
    return;
  }
  const grpc::Status s = rw->Finish();
  if (!may_time_out || s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::abort();
  }
}

void Run(FuzzedDataProvider& in, const std::string& dir) {
  cohort::fuzz::FuzzEngine fuzz(dir, Options(in));
  cohort::server::RoundEngine& engine = fuzz.engine();
  cohort::server::StreamDeadlines deadlines;
  if (in.ConsumeIntegralInRange(0, 7) == 0) {
    deadlines.check_in = absl::Milliseconds(in.ConsumeIntegralInRange(1, 20));
  }
  cohort::server::CoordinatorService service(&engine, nullptr, nullptr,
                                             deadlines);
  const std::string address = absl::StrCat("unix:", dir, "/api.sock");
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) std::abort();
  auto stub = cohort::v1::Coordinator::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  {
    std::array<std::unique_ptr<Stream>, kStreams> streams;
    for (int step = 0; step < 32 && in.remaining_bytes() > 0; ++step) {
      auto& stream = streams[in.ConsumeIntegralInRange(0, kStreams - 1)];
      switch (in.ConsumeIntegralInRange(0, 6)) {
        case 0:
          stream = std::make_unique<Stream>(*stub);
          break;
        case 1:
        case 2:
          if (stream) {
            stream->Write(MakeMessage(in, fuzz.model(), engine.round_id()));
          }
          break;
        case 3:
          if (stream) stream->WritesDone();
          break;
        case 4:
          stream.reset();  // cancelled, possibly mid-conversation
          break;
        case 5:
          Fetch(in, *stub);
          break;
        default:
          fuzz.clock().Advance(absl::Milliseconds(in.ConsumeIntegralInRange(0, 6000)));
          engine.RunOnce();
          fuzz.Check();
          break;
      }
    }
  }
  engine.RunOnce();
  CheckAnswered(*stub, deadlines.check_in != absl::ZeroDuration());
  server->Shutdown(In(1000));
  fuzz.Check();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cohort::fuzz::RunInFreshDir("participate-fuzz", data, size, Run);
}
