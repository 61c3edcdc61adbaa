#include "server/round/report_size.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/secagg/secure_update.h"

namespace cohort::server {
namespace {

constexpr int64_t kFramingBytes = 64 << 10;

int64_t NumParameters(const cohort::v1::Weights& weights) {
  int64_t n = 0;
  for (const auto& t : weights.tensors()) {
    int64_t size = 1;
    for (int64_t d : t.shape()) size *= d;
    n += size;
  }
  return n;
}

// Packed masked input of a secure round, at the modulus the round plans.
int64_t SecureInputBytes(int64_t dimension, const RoundOptions& o) {
  auto encoding =
      o.secagg.distributed_encoding.has_value()
          ? absl::StatusOr<secagg::UpdateEncoding>(*o.secagg.distributed_encoding)
          : secagg::PlanUpdateEncoding(
                o.secagg.bits_per_coordinate, o.clipping.clip_norm,
                o.secagg.rotate, /*rotation_seed=*/0, o.secagg.example_cap,
                dimension, std::max(o.selection_target(), 1));
  if (encoding.ok()) encoding->field = o.secagg.field;
  // An unplannable encoding is refused by the round itself; size it at the
  // widest modulus so this check never passes a task by mistake.
  const int bits = encoding.ok() ? encoding->params.bits : 62;
  const int64_t length =
      encoding.ok() ? secagg::InputLength(*encoding)
                    : dimension + secagg::kExtraCoordinates;
  return (length * bits + 7) / 8;
}

}  // namespace

int64_t LargestReportBytes(const cohort::v1::Weights& weights,
                           const RoundOptions& options) {
  const int64_t n = NumParameters(weights);
  const int64_t payload = options.secagg.enabled ? SecureInputBytes(n, options)
                                                 : n * int64_t{4};
  return payload + kFramingBytes;
}

absl::Status CheckReportFits(const cohort::v1::Weights& weights,
                             const RoundOptions& options,
                             int64_t max_message_bytes, const char* field) {
  const int64_t need = LargestReportBytes(weights, options);
  if (need <= max_message_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: a device's report for this model (%d parameters, %s) is %.1f MB, "
      "over the limit of %.1f MB (%d bytes); every round would be abandoned "
      "on a fleet. Raise %s to at least %d or train a smaller model",
      field, NumParameters(weights),
      options.secagg.enabled ? "masked input of secure aggregation"
                             : "fp32 delta",
      need / 1e6, max_message_bytes / 1e6, max_message_bytes, field, need));
}

}  // namespace cohort::server
