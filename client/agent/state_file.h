#ifndef COHORT_CLIENT_AGENT_STATE_FILE_H_
#define COHORT_CLIENT_AGENT_STATE_FILE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::client {

// A few named non-negative counts, kept in a small text file in the state
// directory, one "name value" line each; lines starting with '#' are
// comments:
//
//   # cohort-agent budget usage
//   day 20240131
//   rounds 3
//
// The agent must survive whatever it finds there (a truncated file, a
// crash mid-edit by hand, a disk that filled up): a file it cannot use is
// moved aside to "<path>.corrupt" and the caller starts from nothing.
using StateValues = std::map<std::string, int64_t>;

// The values of `text`, which must hold each of `keys` exactly once and
// nothing else. DATA_LOSS naming the line otherwise (an unknown or repeated
// name, a value that is not a non-negative integer, a missing name).
absl::StatusOr<StateValues> ParseStateValues(
    absl::string_view text, const std::vector<std::string>& keys);

// `values` as ParseStateValues reads them, after a "# <header>" line.
std::string FormatStateValues(const StateValues& values,
                              absl::string_view header);

// The values in `path`: nullopt when it does not exist, or when it cannot
// be read or parsed; such a file is renamed to "<path>.corrupt" (replacing
// an older one) with a warning naming `what` and the reason. Never fails.
std::optional<StateValues> LoadStateValues(const std::string& path,
                                           const std::vector<std::string>& keys,
                                           absl::string_view what);

// Moves `path` aside to "<path>.corrupt", logging `what` and `why`. A
// failed rename is logged too: the next save overwrites the file anyway.
void QuarantineStateFile(const std::string& path, absl::string_view what,
                         absl::string_view why);

// Writes `values` to `path` atomically (base::WriteFileAtomically, mode
// 0600), creating its folder if needed. INTERNAL on I/O errors (a full
// disk, a folder that cannot be created).
absl::Status SaveStateValues(const std::string& path, const StateValues& values,
                             absl::string_view header);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_AGENT_STATE_FILE_H_
