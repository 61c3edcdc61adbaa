#include "sim/secure_rounds.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::sim {
namespace {

// Whether `sent` is the message after which a device with `drop` goes away.
bool DropsAfter(SecAggDrop drop, const cohort::v1::ClientMessage& sent) {
  switch (drop) {
    case SecAggDrop::kAfterKeys:
      return sent.secagg().has_advertise_keys();
    case SecAggDrop::kAfterShares:
      return sent.secagg().has_share_keys();
    case SecAggDrop::kAfterMaskedInput:
      return sent.secagg().has_masked_input();
    case SecAggDrop::kNone:
      return false;
  }
  return false;
}

void Leave(SecureClient& c) {
  c.active = false;
  c.session->Close();
}

// The cryptography a device does to answer `m`, which starts `phase`
// (SecureRoundStep::phase; the client's work as client/secagg does it; its
// download and upload are added by the caller). Reads the instance's
// parameters from begin.
SecAggStep WorkFor(SecureClient& c, int phase,
                   const cohort::v1::SecAggServerMessage& m) {
  SecAggStep s;
  switch (phase) {
    case 1:
      c.threshold = m.begin().threshold();
      c.vector_length = m.begin().vector_length();
      c.modulus_bits = m.begin().modulus_bits();
      s.key_agreements = 2;  // its encryption and mask key pairs
      break;
    case 2: {
      const int64_t k = m.keys().neighbours_size();
      s.key_agreements = k;  // a key per neighbour to encrypt its shares
      s.field_ops = 2 * k * c.threshold;  // two secrets, k shares of degree t-1
      break;
    }
    case 3: {
      const int64_t k = m.shares().shares_size();
      s.key_agreements = k;  // a pairwise mask seed per neighbour
      s.encoded_coordinates = c.vector_length;
      // The self mask plus one pairwise mask, ceil(bits/8) bytes an element.
      s.mask_bytes = (k + 1) * c.vector_length * ((c.modulus_bits + 7) / 8);
      break;
    }
    default:
      break;  // Unmasking reveals shares the device already holds.
  }
  return s;
}

// Sends the device's answers, counting their bytes; the device leaves after
// the message its SecAggDrop names. Returns whether it is still there.
bool SendAll(SecureClient& c, const std::vector<cohort::v1::ClientMessage>& out,
             SecAggStep& step, SecAggTraffic* traffic) {
  for (const cohort::v1::ClientMessage& m : out) {
    const bool drop_now = DropsAfter(c.drop, m);
    const int64_t bytes = static_cast<int64_t>(m.ByteSizeLong());
    step.bytes_up += bytes;
    traffic->bytes_up += bytes;
    if (!c.session->Send(m).ok() || drop_now) {
      Leave(c);
      return false;
    }
  }
  return true;
}

// One server message: the device answers it and its phase is charged the
// time. Returns whether the device is still in the protocol.
bool HandleOne(SecureClient& c, const cohort::v1::ServerMessage& message,
               const DeviceModel& devices, SecAggTraffic* traffic) {
  const secagg::SecureRoundStep handled = c.driver->Handle(message);
  // An Ack, or a message that is not SecAgg: the device is done, and
  // neither is counted as SecAgg traffic.
  if (handled.ack.has_value() || !message.has_secagg()) {
    Leave(c);
    return false;
  }
  SecAggStep step = WorkFor(c, handled.phase, message.secagg());
  step.bytes_down = static_cast<int64_t>(message.ByteSizeLong());
  traffic->bytes_down += step.bytes_down;
  const bool stays = SendAll(c, handled.send, step, traffic);
  if (handled.phase > 0) {
    c.phase_seconds[handled.phase - 1] += devices.SecAggSeconds(c.id, step);
  }
  if (stays && !handled.status.ok()) {
    VLOG(1) << "client " << c.id << " leaves SecAgg: " << handled.status;
    Leave(c);
    return false;
  }
  return stays;
}

// Takes what is queued for `c` (the stream ending makes it leave).
std::vector<cohort::v1::ServerMessage> Inbox(SecureClient& c) {
  std::vector<cohort::v1::ServerMessage> inbox;
  while (c.active) {
    auto message = c.session->Receive();
    if (!message.ok()) {
      // UNAVAILABLE: nothing queued yet. Anything else: the stream ended.
      if (message.status().code() != absl::StatusCode::kUnavailable) Leave(c);
      break;
    }
    inbox.push_back(*std::move(message));
  }
  return inbox;
}

// One pass: every device's queued messages are taken first, then handled
// device by device in `clients` order. What the devices' answers make the
// engine send waits for the next pass, so each phase's messages are handled
// in `clients` order whichever answer completed the phase before (the
// simulator trains a device when its masked input is due, in that order).
// Returns whether any message was handled.
bool ServeAll(std::vector<SecureClient>& clients, const DeviceModel& devices,
              SecAggTraffic* traffic) {
  std::vector<std::vector<cohort::v1::ServerMessage>> inboxes;
  inboxes.reserve(clients.size());
  for (SecureClient& c : clients) inboxes.push_back(Inbox(c));
  bool any = false;
  for (size_t i = 0; i < clients.size(); ++i) {
    for (const auto& message : inboxes[i]) {
      any = true;
      if (!HandleOne(clients[i], message, devices, traffic)) break;
    }
  }
  return any;
}

// Moves the clock by what the slowest device added to each phase since the
// last call. A phase lasts as long as its slowest device, but no longer than
// the deadline at which the server stops waiting.
void ChargePhases(const std::vector<SecureClient>& clients,
                  absl::Duration phase_timeout,
                  std::array<double, kSecAggPhases>& charged,
                  VirtualClock* clock) {
  const double cap = absl::ToDoubleSeconds(phase_timeout);
  double advance = 0;
  for (int p = 0; p < kSecAggPhases; ++p) {
    double slowest = 0;
    for (const SecureClient& c : clients) {
      slowest = std::max(slowest, c.phase_seconds[p]);
    }
    slowest = std::min(slowest, cap);
    if (slowest > charged[p]) {
      advance += slowest - charged[p];
      charged[p] = slowest;
    }
  }
  if (advance > 0) clock->AdvanceTo(clock->Now() + absl::Seconds(advance));
}

}  // namespace

absl::Status RunSecureAggregation(server::RoundEngine* engine,
                                  VirtualClock* clock,
                                  const DeviceModel& devices,
                                  absl::Duration phase_timeout,
                                  std::vector<SecureClient>& clients,
                                  SecAggTraffic* traffic) {
  std::array<double, kSecAggPhases> charged{};
  // Bounded: every idle pass moves a phase deadline, and there are 4 phases.
  for (int idle = 0; engine->phase() == server::RoundPhase::kAggregating;) {
    const bool progressed = ServeAll(clients, devices, traffic);
    // Before the engine looks at the clock: the phases' work took this long.
    ChargePhases(clients, phase_timeout, charged, clock);
    engine->RunOnce();
    if (progressed) continue;
    if (++idle > 16) {
      return absl::InternalError(
          "secure aggregation made no progress across 16 phase deadlines");
    }
    clock->AdvanceTo(clock->Now() + phase_timeout + absl::Milliseconds(1));
    engine->RunOnce();
  }
  ServeAll(clients, devices, traffic);  // read the final Acks
  for (SecureClient& c : clients) {
    if (c.active) Leave(c);
  }
  return absl::OkStatus();
}

}  // namespace cohort::sim
