#include "sim/output/sim_metrics.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace cohort::sim {

using base::ErrnoError;
namespace {

using server::AppendFixed;


}  // namespace

absl::StatusOr<std::unique_ptr<MetricsCsvWriter>> MetricsCsvWriter::Create(
    const std::string& path) {
  // "e": O_CLOEXEC, so spawned children (gnuplot) do not inherit the file.
  FILE* file = std::fopen(path.c_str(), "we");
  if (file == nullptr) return ErrnoError("cannot create", path);
  std::unique_ptr<MetricsCsvWriter> writer(new MetricsCsvWriter(path, file));
  absl::Status status = writer->WriteLine(kHeader);
  if (!status.ok()) return status;
  return writer;
}

MetricsCsvWriter::~MetricsCsvWriter() {
  if (std::fclose(file_) != 0) {
    LOG(WARNING) << "closing " << path_ << ": " << std::strerror(errno);
  }
}

absl::Status MetricsCsvWriter::Append(const SimRoundRow& row) {
  return WriteLine(FormatRow(row, /*include_wall=*/true));
}

absl::Status MetricsCsvWriter::WriteLine(const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fputc('\n', file_) == EOF || std::fflush(file_) != 0) {
    return ErrnoError("cannot write", path_);
  }
  return absl::OkStatus();
}

std::string MetricsCsvWriter::Header(bool include_wall) {
  if (include_wall) return kHeader;
  return StripWallSeconds(kHeader);
}

std::string MetricsCsvWriter::FormatRow(const SimRoundRow& row,
                                        bool include_wall) {
  std::string out;
  out.reserve(128);
  absl::StrAppend(&out, row.round, ",");
  AppendFixed(&out, row.sim_seconds, 3);
  out.push_back(',');
  if (include_wall) {
    AppendFixed(&out, row.wall_seconds, 3);
    out.push_back(',');
  }
  absl::StrAppend(&out, row.participants, ",", row.dropped, ",", row.bytes_up,
                  ",", row.bytes_down, ",");
  AppendFixed(&out, row.train_loss, 6);
  out.push_back(',');
  AppendFixed(&out, row.test_accuracy, 6);
  absl::StrAppend(&out, ",", server::FormatRoundOutcome(row.outcome), ",");
  AppendFixed(&out, row.local_accuracy, 6);
  out.push_back(',');
  AppendFixed(&out, row.personalized_accuracy, 6);
  return out;
}

std::string MetricsCsvWriter::StripWallSeconds(absl::string_view csv) {
  std::string out;
  out.reserve(csv.size());
  bool first_line = true;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    if (!first_line) out.push_back('\n');
    first_line = false;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    if (fields.size() <= static_cast<size_t>(kWallSecondsColumn)) {
      out.append(line.data(), line.size());
      continue;
    }
    fields.erase(fields.begin() + kWallSecondsColumn);
    absl::StrAppend(&out, absl::StrJoin(fields, ","));
  }
  return out;
}

}  // namespace cohort::sim
