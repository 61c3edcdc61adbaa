#ifndef COHORT_SIM_OUTPUT_PROGRESS_DISPLAY_H_
#define COHORT_SIM_OUTPUT_PROGRESS_DISPLAY_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "sim/output/sim_metrics.h"

namespace cohort::sim {

// Where a run is, for ProgressDisplay::Update().
struct ProgressState {
  int64_t round = 0;  // 1-based round in progress (or just done).
  int64_t total_rounds = 0;
  int64_t clients_done = 0;      // Clients of this round that have finished.
  int64_t clients_in_round = 0;  // Clients selected for this round.
  absl::Duration elapsed;        // Time since the run started.
  std::optional<double> last_accuracy;  // Latest test accuracy; NaN = none.
};

// A one-line live status for an interactive terminal:
//
//   round 12/50 [####................] clients 63/100  elapsed 0:41  eta 2:09
//   acc 0.8123
//
// Each redraw is "\r", ANSI erase-line ("\x1b[2K"), the line, and an fflush;
// no newline until Finish(). The simulator should enable it only when
// IsTerminal(out); otherwise it prints RoundLine() once per round instead.
//
// Update() is cheap: it reads the injected clock and returns unless the round
// changed or at least kMinRedrawInterval passed since the last draw. A state
// skipped that way is remembered and drawn by Finish(), so the final line is
// always current. When disabled, nothing is ever written.
//
// Thread-safe. Does not own `out` or `clock`; both must outlive it.
class ProgressDisplay {
 public:
  static constexpr absl::Duration kMinRedrawInterval = absl::Milliseconds(100);
  static constexpr int kBarWidth = 20;

  ProgressDisplay(FILE* out, bool enabled,
                  base::Clock* clock = base::RealClock::Get());

  // Redraws the line with `state`, subject to the rate limit above.
  void Update(const ProgressState& state);

  // Draws any pending state and ends the line with '\n' (only if a line was
  // drawn). Updates after Finish() start a new line.
  void Finish();

  bool enabled() const { return enabled_; }

  // True if `f` is a terminal (isatty(fileno(f))). False for nullptr.
  static bool IsTerminal(FILE* f);

  // The status line for `state`, without "\r" or escape codes.
  static std::string FormatLine(const ProgressState& state);

  // Rounds finished, counting the round in progress fractionally by its
  // clients: (round - 1) + clients_done / clients_in_round, clamped to
  // [0, total_rounds].
  static double RoundsCompleted(const ProgressState& state);

  // Time left: average time per completed round times rounds remaining,
  //   elapsed / rounds_completed * (total_rounds - rounds_completed).
  // Zero once rounds_completed >= total_rounds; absl::InfiniteDuration()
  // (unknown) while rounds_completed <= 0.
  static absl::Duration EstimateRemaining(absl::Duration elapsed,
                                          double rounds_completed,
                                          int64_t total_rounds);

  // "M:SS" under an hour, else "H:MM:SS"; "--:--" if infinite. Negative
  // durations print as 0:00. Fractions of a second are truncated.
  static std::string FormatClock(absl::Duration d);

  // The plain per-round log line used when the display is disabled, e.g.
  //   round  12/50  clients 100  dropped 3  sim 412.0s  wall 2.1s  loss 0.4123
  //   acc 0.8123
  // The round is right-aligned to the width of total_rounds; NaN loss or
  // accuracy prints as "-".
  static std::string RoundLine(const SimRoundRow& row, int total_rounds);

 private:
  void DrawLocked(const ProgressState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FILE* const out_;
  const bool enabled_;
  base::Clock* const clock_;

  absl::Mutex mu_;
  bool drawn_ ABSL_GUARDED_BY(mu_) = false;  // A line is on screen, unended.
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_);
  int64_t last_round_ ABSL_GUARDED_BY(mu_) = -1;
  std::optional<ProgressState> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_OUTPUT_PROGRESS_DISPLAY_H_
