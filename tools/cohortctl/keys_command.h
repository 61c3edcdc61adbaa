#ifndef COHORT_TOOLS_COHORTCTL_KEYS_COMMAND_H_
#define COHORT_TOOLS_COHORTCTL_KEYS_COMMAND_H_

#include <string>

namespace cohort::tools {

// `cohortctl keys generate|rotate|certify` with its own flags (--root_dir,
// --keys, --threshold, --valid_days, --revoke); `out_dir` is --out
// (certify's output) and `json` is --json. Returns the exit code: 0, 2 for
// bad usage, 1 when the work fails.
int RunKeysCommand(const std::string& subcommand, const std::string& out_dir,
                   bool json);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_KEYS_COMMAND_H_
