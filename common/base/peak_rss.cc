#include "common/base/peak_rss.h"

#include <fstream>
#include <string>

namespace cohort::base {

double PeakRssMib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;  // reported in kB
    }
  }
  return 0.0;
}

bool ResetPeakRss() {
  // Writing "5" to clear_refs resets VmHWM to the current RSS.
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

}  // namespace cohort::base
