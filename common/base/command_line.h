#ifndef COHORT_COMMON_BASE_COMMAND_LINE_H_
#define COHORT_COMMON_BASE_COMMAND_LINE_H_

#include <vector>

namespace cohort::base {

// Parses argv with Abseil flags after setting `usage` as the program's usage
// message; returns the positional arguments (argv[0] first). `--help` lists
// the flags defined in the binary's own *_main.cc and its subcommands'
// *_command.cc files (Abseil's default matches
// files named after the binary, which ours are not, and then prints "No
// flags matched"); `--helpfull` lists every flag. Exits on a bad flag.
std::vector<char*> ParseCommandLine(int argc, char** argv, const char* usage);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_COMMAND_LINE_H_
