#include "client/agent/device_probes.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/base/errno_status.h"

namespace cohort::client {
namespace {

// sysfs and procfs files report a size (4096 or 0) that is not their
// length, so base::ReadFile cannot read them: read until EOF instead.
constexpr size_t kMaxVirtualFile = 64 << 10;

absl::StatusOr<std::string> ReadVirtualFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("no such file: ", path));
    }
    return base::ErrnoError("open", path);
  }
  std::string out;
  char buf[4096];
  while (out.size() < kMaxVirtualFile) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const absl::Status s = base::ErrnoError("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// The file's contents without surrounding white space.
absl::StatusOr<std::string> ReadWord(const std::string& path) {
  auto text = ReadVirtualFile(path);
  if (!text.ok()) return text.status();
  return std::string(absl::StripAsciiWhitespace(*text));
}

// An integer file; INTERNAL when it holds something else.
absl::StatusOr<int64_t> ReadInt(const std::string& path) {
  auto word = ReadWord(path);
  if (!word.ok()) return word.status();
  int64_t value = 0;
  if (!absl::SimpleAtoi(*word, &value)) {
    return absl::InternalError(
        absl::StrCat(path, " holds \"", *word, "\", not an integer"));
  }
  return value;
}

// The entries of `dir` whose names start with `prefix`, sorted; empty when
// `dir` does not exist.
std::vector<std::string> Entries(const std::string& dir,
                                 absl::string_view prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  // increment(ec), not ++: a directory that vanishes must not throw.
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (absl::StartsWith(name, prefix)) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What the supplies in /sys/class/power_supply add up to.
struct Supplies {
  int external = 0;         // Mains, USB, Wireless, UPS
  int external_online = 0;
  int batteries = 0;
  int discharging = 0;
  std::vector<int64_t> capacities;
};

// Adds the supply in `dir` to `s`. A supply without a type, or of a type
// this code does not know, is left out.
absl::Status AddSupply(const std::string& dir, Supplies& s) {
  auto scope = ReadWord(dir + "/scope");
  if (scope.ok() && *scope == "Device") return absl::OkStatus();
  auto type = ReadWord(dir + "/type");
  if (!type.ok()) return absl::OkStatus();
  if (*type == "Battery") {
    ++s.batteries;
    auto status = ReadWord(dir + "/status");
    if (status.ok() && *status == "Discharging") ++s.discharging;
    auto capacity = ReadInt(dir + "/capacity");
    if (capacity.ok()) {
      s.capacities.push_back(std::clamp<int64_t>(*capacity, 0, 100));
    } else if (capacity.status().code() != absl::StatusCode::kNotFound) {
      return capacity.status();
    }
    return absl::OkStatus();
  }
  if (*type == "Mains" || *type == "USB" || *type == "Wireless" ||
      *type == "UPS") {
    ++s.external;
    auto online = ReadInt(dir + "/online");
    if (!online.ok()) return online.status();
    if (*online != 0) ++s.external_online;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PowerState> SysfsPowerProbe::Read() {
  Supplies s;
  for (const std::string& supply : Entries(dir_, "")) {
    if (absl::Status added = AddSupply(supply, s); !added.ok()) return added;
  }
  PowerState state;
  if (s.external > 0) {
    state.on_ac = s.external_online > 0;
  } else {
    // Some laptops list their battery only; its status then tells.
    state.on_ac = s.discharging == 0;
  }
  if (!s.capacities.empty()) {
    int64_t sum = 0;
    for (int64_t c : s.capacities) sum += c;
    state.battery_percent =
        static_cast<int>(sum / static_cast<int64_t>(s.capacities.size()));
  }
  return state;
}

absl::StatusOr<double> ProcLoadProbe::OneMinuteAverage() {
  auto text = ReadVirtualFile(path_);
  if (!text.ok()) return text.status();
  const std::vector<absl::string_view> fields =
      absl::StrSplit(*text, ' ', absl::SkipEmpty());
  double load = 0;
  if (fields.empty() || !absl::SimpleAtod(fields[0], &load) || load < 0) {
    return absl::InternalError(
        absl::StrCat(path_, " does not start with a load average"));
  }
  return load;
}

absl::StatusOr<std::optional<double>> SysfsThermalProbe::HottestCelsius() {
  std::optional<double> hottest;
  for (const std::string& zone : Entries(dir_, "thermal_zone")) {
    auto milli = ReadInt(zone + "/temp");
    if (!milli.ok()) continue;  // a zone asleep or without a sensor
    const double celsius = static_cast<double>(*milli) / 1000.0;
    if (!hottest.has_value() || celsius > *hottest) hottest = celsius;
  }
  return hottest;
}

absl::StatusOr<int64_t> ProcMemoryProbe::ResidentBytes() {
  auto text = ReadVirtualFile(path_);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    // "VmRSS:	   12345 kB"
    const std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int64_t kib = 0;
    if (words.size() == 2 && words[1] == "kB" &&
        absl::SimpleAtoi(words[0], &kib) && kib >= 0) {
      return kib * 1024;
    }
    return absl::InternalError(
        absl::StrCat(path_, ": cannot parse VmRSS:", line));
  }
  return absl::NotFoundError(absl::StrCat(path_, " has no VmRSS line"));
}

}  // namespace cohort::client
