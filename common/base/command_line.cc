#include "common/base/command_line.h"

#include <string>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cohort::base {

std::vector<char*> ParseCommandLine(int argc, char** argv, const char* usage) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    // A binary's flags live in its *_main.cc and its subcommands'
    // *_command.cc; library flags (gRPC's, glog's) stay out of --help.
    return absl::EndsWith(file, "_main.cc") ||
           absl::EndsWith(file, "_command.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  const std::string name(absl::string_view(argv[0]).substr(
      absl::string_view(argv[0]).find_last_of('/') + 1));
  config.version_string = [name] {
    return absl::StrCat(name, " ", COHORT_VERSION, "\n");
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace cohort::base
