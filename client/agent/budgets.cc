#include "client/agent/budgets.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/agent/state_file.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::client {
namespace {

constexpr char kDay[] = "day";
constexpr char kRounds[] = "rounds";
constexpr char kUploaded[] = "uploaded_bytes";
constexpr char kDownloaded[] = "downloaded_bytes";
constexpr char kWhat[] = "budget usage";

absl::Status Spent(absl::string_view cap, absl::string_view why) {
  return absl::ResourceExhaustedError(
      absl::StrCat("budgets.", cap, ": ", why));
}

// a + b for b >= 0, stopping at the largest int64 (a count read back from
// disk may be anything a file can hold).
int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b
             ? std::numeric_limits<int64_t>::max()
             : a + b;
}

// The day a DayNumber names, or nullopt when it names none (20241301).
std::optional<absl::CivilDay> DayOf(int64_t number) {
  // Bounded first: a huge year would overflow the civil-time arithmetic.
  if (number < 10000101 || number > 99991231) return std::nullopt;
  const absl::CivilDay day(number / 10000, (number / 100) % 100,
                           number % 100);
  if (DayNumber(day) != number) return std::nullopt;  // normalized away
  return day;
}

}  // namespace

int64_t DayNumber(absl::CivilDay day) {
  return int64_t{day.year()} * 10000 + day.month() * 100 + day.day();
}

Budgets::Budgets(const BudgetOptions& options, std::string state_dir,
                 std::unique_ptr<MemoryProbe> memory, base::Clock* clock,
                 absl::TimeZone zone)
    : options_(options),
      path_(std::move(state_dir) + "/" + kStateFile),
      memory_(std::move(memory)),
      clock_(clock),
      zone_(zone) {
  if (memory_ == nullptr) memory_ = std::make_unique<ProcMemoryProbe>();
  usage_.day = absl::ToCivilDay(clock_->Now(), zone_);
  if (options_.has_daily_caps()) Load();
}

Budgets::~Budgets() {
  if (dirty_) Save(/*force=*/true);
}

std::vector<std::string> BudgetStateKeys() {
  return {kDay, kRounds, kUploaded, kDownloaded};
}

absl::StatusOr<DailyUsage> UsageOfToday(const StateValues& saved,
                                        absl::CivilDay today) {
  const std::optional<absl::CivilDay> day = DayOf(saved.at(kDay));
  if (!day.has_value()) {
    return absl::DataLossError(
        absl::StrCat("day ", saved.at(kDay), " is no date"));
  }
  DailyUsage usage{today};
  if (*day != today) return usage;
  usage.rounds = saved.at(kRounds);
  usage.uploaded_bytes = saved.at(kUploaded);
  usage.downloaded_bytes = saved.at(kDownloaded);
  return usage;
}

absl::Status CheckDailyCaps(const BudgetOptions& o, const DailyUsage& u) {
  if (o.max_rounds_per_day > 0 && u.rounds >= o.max_rounds_per_day) {
    return Spent("max_rounds_per_day",
                 absl::StrCat(u.rounds, " of ", o.max_rounds_per_day,
                              " rounds used today"));
  }
  if (o.max_upload_bytes_per_day > 0 &&
      u.uploaded_bytes >= o.max_upload_bytes_per_day) {
    return Spent("max_upload_bytes_per_day",
                 absl::StrCat(u.uploaded_bytes, " of ",
                              o.max_upload_bytes_per_day, " bytes sent today"));
  }
  if (o.max_download_bytes_per_day > 0 &&
      u.downloaded_bytes >= o.max_download_bytes_per_day) {
    return Spent("max_download_bytes_per_day",
                 absl::StrCat(u.downloaded_bytes, " of ",
                              o.max_download_bytes_per_day,
                              " bytes received today"));
  }
  return absl::OkStatus();
}

void Budgets::Load() {
  auto saved = LoadStateValues(path_, BudgetStateKeys(), kWhat);
  if (!saved.has_value()) return;
  auto usage = UsageOfToday(*saved, usage_.day);
  if (!usage.ok()) {
    QuarantineStateFile(path_, kWhat, usage.status().message());
    return;
  }
  usage_ = *usage;
}

void Budgets::RollOver() {
  const absl::CivilDay today = absl::ToCivilDay(clock_->Now(), zone_);
  if (today == usage_.day) return;
  LOG_IF(INFO, options_.has_daily_caps()) << "a new day (" << absl::FormatCivilTime(today)
            << "): budget usage starts again; " << usage_.rounds
            << " rounds, " << usage_.uploaded_bytes << " bytes sent and "
            << usage_.downloaded_bytes << " received on "
            << absl::FormatCivilTime(usage_.day);
  usage_ = DailyUsage{today};
  dirty_ = true;
  Save(/*force=*/true);
}

const DailyUsage& Budgets::usage() {
  RollOver();
  return usage_;
}

void Budgets::CountTraffic(const Traffic& totals) {
  RollOver();
  // Counters only grow; a smaller total means they were replaced.
  const int64_t sent = std::max<int64_t>(0, totals.sent - counted_.sent);
  const int64_t received =
      std::max<int64_t>(0, totals.received - counted_.received);
  counted_ = totals;
  if (sent == 0 && received == 0) return;
  usage_.uploaded_bytes = SaturatingAdd(usage_.uploaded_bytes, sent);
  usage_.downloaded_bytes = SaturatingAdd(usage_.downloaded_bytes, received);
  dirty_ = true;
  Save(/*force=*/false);
}

absl::Status Budgets::CheckBeforeRound() {
  RollOver();
  COHORT_RETURN_IF_ERROR(CheckDailyCaps(options_, usage_));
  const BudgetOptions& o = options_;
  if (o.max_resident_mib == 0) return absl::OkStatus();
  auto resident = memory_->ResidentBytes();
  if (!resident.ok()) {
    return Spent("max_resident_mib",
                 absl::StrCat("cannot read resident memory: ",
                              resident.status().message()));
  }
  const int64_t mib = *resident >> 20;
  // resident > max_resident_mib MiB, without shifting the cap (no overflow).
  const bool over = mib > o.max_resident_mib ||
                    (mib == o.max_resident_mib && (*resident & 0xFFFFF) != 0);
  if (over) {
    return Spent("max_resident_mib",
                 absl::StrCat("resident memory ", mib, " MiB, above ",
                              o.max_resident_mib, " MiB"));
  }
  return absl::OkStatus();
}

absl::Status Budgets::CheckDownload(int64_t bytes) {
  RollOver();
  const int64_t cap = options_.max_download_bytes_per_day;
  // `bytes` comes from the coordinator: compare without adding to it.
  if (cap == 0 || std::max<int64_t>(0, bytes) <= cap - usage_.downloaded_bytes) {
    return absl::OkStatus();
  }
  return Spent("max_download_bytes_per_day",
               absl::StrCat("a ", bytes, "-byte model would take today's ",
                            usage_.downloaded_bytes, " received bytes past ",
                            cap));
}

void Budgets::RoundReported() {
  RollOver();
  usage_.rounds = SaturatingAdd(usage_.rounds, 1);
  dirty_ = true;
  Save(/*force=*/true);
}

void Budgets::Save(bool force) {
  if (!options_.has_daily_caps() || !dirty_) return;
  const absl::Time now = clock_->Now();
  if (!force && now < last_save_ + kTrafficSaveInterval) return;
  last_save_ = now;
  const absl::Status saved = SaveStateValues(
      path_,
      {{kDay, DayNumber(usage_.day)},
       {kRounds, usage_.rounds},
       {kUploaded, usage_.uploaded_bytes},
       {kDownloaded, usage_.downloaded_bytes}},
      "cohort-agent: budget usage of one local day");
  if (saved.ok()) dirty_ = false;
  if (save_errors_.ShouldLog(saved)) {
    LOG(WARNING) << "cannot save " << path_ << ": " << saved
                 << "; budget usage is kept in memory";
  }
}

}  // namespace cohort::client
