#include "sim/secure_rounds.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::sim {
namespace {

// Whether `sent` is the message after which a device with `drop` goes away.
bool DropsAfter(SecAggDrop drop, const cohort::v1::SecAggClientMessage& sent) {
  switch (drop) {
    case SecAggDrop::kAfterKeys:
      return sent.has_advertise_keys();
    case SecAggDrop::kAfterShares:
      return sent.has_share_keys();
    case SecAggDrop::kAfterMaskedInput:
      return sent.has_masked_input();
    case SecAggDrop::kNone:
      return false;
  }
  return false;
}

void Leave(SecureClient& c) {
  c.active = false;
  c.session->Close();
}

// Delivers everything queued for `c`; returns whether anything was.
bool Serve(SecureClient& c, int64_t* bytes_up) {
  bool any = false;
  std::vector<cohort::v1::SecAggClientMessage> out;
  while (c.active) {
    auto message = c.session->Receive();
    if (!message.ok()) {
      // UNAVAILABLE: nothing queued yet. Anything else: the stream ended.
      if (message.status().code() != absl::StatusCode::kUnavailable) Leave(c);
      return any;
    }
    any = true;
    if (message->has_ack() || !message->has_secagg()) {
      Leave(c);
      return any;
    }
    out.clear();
    absl::Status handled = c.participant->Handle(message->secagg(), &out);
    for (auto& m : out) {
      const bool drop_now = DropsAfter(c.drop, m);
      cohort::v1::ClientMessage wrapped;
      *wrapped.mutable_secagg() = std::move(m);
      *bytes_up += static_cast<int64_t>(wrapped.ByteSizeLong());
      if (!c.session->Send(wrapped).ok()) {
        Leave(c);
        return any;
      }
      if (drop_now) {
        Leave(c);
        return any;
      }
    }
    if (!handled.ok()) {
      VLOG(1) << "client " << c.id << " leaves SecAgg: " << handled;
      Leave(c);
    }
  }
  return any;
}

}  // namespace

absl::Status RunSecureAggregation(server::RoundEngine* engine,
                                  VirtualClock* clock,
                                  absl::Duration phase_timeout,
                                  std::vector<SecureClient>& clients,
                                  int64_t* bytes_up) {
  // Bounded: every idle pass moves a phase deadline, and there are 4 phases.
  for (int idle = 0; engine->phase() == server::RoundPhase::kAggregating;) {
    bool progressed = false;
    for (SecureClient& c : clients) progressed |= Serve(c, bytes_up);
    engine->RunOnce();
    if (progressed) continue;
    if (++idle > 16) {
      return absl::InternalError(
          "secure aggregation made no progress across 16 phase deadlines");
    }
    clock->AdvanceTo(clock->Now() + phase_timeout + absl::Milliseconds(1));
    engine->RunOnce();
  }
  for (SecureClient& c : clients) {
    if (c.active) Serve(c, bytes_up);  // read the final Acks
    if (c.active) Leave(c);
  }
  return absl::OkStatus();
}

}  // namespace cohort::sim
