#include "server/api/check_in_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/api/sockets.h"

namespace cohort::server {

std::string CheckInSource(absl::string_view cert_name,
                          absl::string_view grpc_peer) {
  if (!cert_name.empty()) return absl::StrCat("device ", cert_name);
  return absl::StrCat("connection ", DevicePeer(grpc_peer));
}

CheckInLimiter::CheckInLimiter(CheckInRate rate, const base::Clock* clock,
                               size_t max_sources)
    : rate_(rate), clock_(clock), max_sources_(max_sources) {}

double CheckInLimiter::Refilled(const Bucket& b, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  return std::min<double>(rate_.burst, b.tokens + elapsed * rate_.per_second);
}

void CheckInLimiter::DropFullLocked(absl::Time now) {
  absl::erase_if(buckets_, [&](const auto& entry) {
    return Refilled(entry.second, now) >= rate_.burst;
  });
}

absl::Status CheckInLimiter::Admit(absl::string_view source) {
  absl::MutexLock lock(&mu_);
  // Read under the lock, so no bucket's time moves backwards.
  const absl::Time now = clock_->Now();
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_) DropFullLocked(now);
    if (buckets_.size() >= max_sources_) {
      LOG_IF(WARNING, !warned_full_)
          << "check-in limiter tracks " << max_sources_
          << " sources; admitting new ones unlimited until buckets refill";
      warned_full_ = true;
      return absl::OkStatus();
    }
    it = buckets_.emplace(source, Bucket{static_cast<double>(rate_.burst), now})
             .first;
  }
  Bucket& b = it->second;
  b.tokens = Refilled(b, now);
  b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return absl::OkStatus();
  }
  // At most 100 s: ResolveFrontDoorOptions refuses slower rates.
  const double wait_s = std::min(100.0, (1 - b.tokens) / rate_.per_second);
  return absl::ResourceExhaustedError(absl::StrCat(
      "more than ", rate_.per_second, " check-ins per second (burst ",
      rate_.burst, ") from this ", source.substr(0, source.find(' ')),
      "; retry in ", static_cast<int64_t>(std::ceil(wait_s * 1000)), " ms"));
}

size_t CheckInLimiter::sources() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace cohort::server
