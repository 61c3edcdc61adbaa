#include "common/base/child_process.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(TryInChildProcessTest, WorkThatReturnsIsOk) {
  int touched = 0;
  EXPECT_TRUE(TryInChildProcess([&] { touched = 1; }, absl::Seconds(30)).ok());
  // The child's memory is its own.
  EXPECT_EQ(touched, 0);
}

// A CHECK failure (SIGABRT) and a bad pointer (SIGSEGV). AddressSanitizer
// catches SIGSEGV itself and turns it into a report and exit code 1, so under
// ASan only the abort is tried.
TEST(TryInChildProcessTest, WorkThatCrashesIsAbortedNamingTheSignal) {
  const absl::Status aborted =
      TryInChildProcess([] { ::raise(SIGABRT); }, absl::Seconds(30));
  EXPECT_EQ(aborted.code(), absl::StatusCode::kAborted) << aborted;
  EXPECT_TRUE(absl::StrContains(aborted.message(), "signal 6")) << aborted;
#if !defined(__SANITIZE_ADDRESS__)
  const absl::Status s = TryInChildProcess([] { ::raise(SIGSEGV); }, absl::Seconds(30));
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "signal 11")) << s;
#endif
}

TEST(TryInChildProcessTest, WorkThatHangsIsKilledAtTheLimit) {
  const absl::Time start = absl::Now();
  const absl::Status s =
      TryInChildProcess([] { ::pause(); }, absl::Milliseconds(200));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "200ms")) << s;
  // Bounded: the limit plus reaping, not the child's own (endless) time.
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

}  // namespace
}  // namespace cohort::base
