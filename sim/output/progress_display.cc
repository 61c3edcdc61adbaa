#include "sim/output/progress_display.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cohort::sim {
namespace {

std::string FormatAccuracy(std::optional<double> acc) {
  if (!acc.has_value() || std::isnan(*acc)) return "-";
  return absl::StrFormat("%.4f", *acc);
}

std::string Bar(double fraction) {
  int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) *
                                ProgressDisplay::kBarWidth);
  return absl::StrCat("[", std::string(filled, '#'),
                      std::string(ProgressDisplay::kBarWidth - filled, '.'),
                      "]");
}

}  // namespace

ProgressDisplay::ProgressDisplay(FILE* out, bool enabled, base::Clock* clock)
    : out_(out), enabled_(enabled && out != nullptr), clock_(clock) {}

bool ProgressDisplay::IsTerminal(FILE* f) {
  return f != nullptr && ::isatty(::fileno(f)) == 1;
}

void ProgressDisplay::Update(const ProgressState& state) {
  if (!enabled_) return;
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (drawn_ && state.round == last_round_ &&
      now - last_draw_ < kMinRedrawInterval) {
    pending_ = state;
    return;
  }
  last_draw_ = now;
  DrawLocked(state);
}

void ProgressDisplay::Finish() {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  if (pending_.has_value()) DrawLocked(*pending_);
  if (drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  drawn_ = false;
  last_round_ = -1;
}

void ProgressDisplay::DrawLocked(const ProgressState& state) {
  std::string line = absl::StrCat("\r\x1b[2K", FormatLine(state));
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
  drawn_ = true;
  last_round_ = state.round;
  pending_.reset();
}

std::string ProgressDisplay::FormatLine(const ProgressState& state) {
  double done = RoundsCompleted(state);
  double fraction = state.total_rounds > 0 ? done / state.total_rounds : 0;
  absl::Duration eta =
      EstimateRemaining(state.elapsed, done, state.total_rounds);
  return absl::StrCat("round ", state.round, "/", state.total_rounds, " ",
                      Bar(fraction), " clients ", state.clients_done, "/",
                      state.clients_in_round, "  elapsed ",
                      FormatClock(state.elapsed), "  eta ", FormatClock(eta),
                      "  acc ", FormatAccuracy(state.last_accuracy));
}

double ProgressDisplay::RoundsCompleted(const ProgressState& state) {
  double in_round = 0;
  if (state.clients_in_round > 0) {
    in_round = std::clamp(static_cast<double>(state.clients_done) /
                              static_cast<double>(state.clients_in_round),
                          0.0, 1.0);
  }
  double done = static_cast<double>(state.round - 1) + in_round;
  return std::clamp(
      done, 0.0, static_cast<double>(std::max<int64_t>(state.total_rounds, 0)));
}

absl::Duration ProgressDisplay::EstimateRemaining(absl::Duration elapsed,
                                                  double rounds_completed,
                                                  int64_t total_rounds) {
  double total = static_cast<double>(total_rounds);
  if (rounds_completed >= total) return absl::ZeroDuration();
  if (!(rounds_completed > 0)) return absl::InfiniteDuration();
  return elapsed * ((total - rounds_completed) / rounds_completed);
}

std::string ProgressDisplay::FormatClock(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "--:--";
  int64_t s = std::max<int64_t>(absl::ToInt64Seconds(d), 0);
  int64_t h = s / 3600, m = (s / 60) % 60, sec = s % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, sec);
  return absl::StrFormat("%d:%02d", m, sec);
}

std::string ProgressDisplay::RoundLine(const SimRoundRow& row,
                                       int total_rounds) {
  int width = static_cast<int>(absl::StrCat(total_rounds).size());
  auto maybe = [](double v) {
    return std::isnan(v) ? std::string("-") : absl::StrFormat("%.4f", v);
  };
  std::string line = absl::StrFormat(
      "round %*d/%d  clients %d  dropped %d  sim %.1fs  wall %.1fs  loss %s  "
      "acc %s",
      width, row.round, total_rounds, row.participants, row.dropped,
      row.sim_seconds, row.wall_seconds, maybe(row.train_loss),
      maybe(row.test_accuracy));
  // Under differential privacy: the epsilon spent so far.
  if (!std::isnan(row.outcome.epsilon)) {
    absl::StrAppend(&line, absl::StrFormat("  eps %.3f", row.outcome.epsilon));
  }
  // With local test splits: the reporters' accuracy there, global model
  // and (FedPer) personalized.
  if (!std::isnan(row.local_accuracy)) {
    absl::StrAppend(&line, "  local ", maybe(row.local_accuracy));
  }
  if (!std::isnan(row.personalized_accuracy)) {
    absl::StrAppend(&line, "  personal ", maybe(row.personalized_accuracy));
  }
  return line;
}

}  // namespace cohort::sim
