#include "client/examples/example_source.h"

#include <algorithm>
#include <utility>

#include "client/examples/example_store.h"
#include "glog/logging.h"

namespace cohort::client {

FashionMnistShardSource::FashionMnistShardSource(Loader loader)
    : loader_(std::move(loader)) {}

absl::Status FashionMnistShardSource::LoadLocked() {
  if (shard_.has_value()) return absl::OkStatus();
  absl::StatusOr<data::ImageDataset> loaded = loader_();
  if (!loaded.ok()) return loaded.status();
  shard_ = *std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<data::ImageDataset> FashionMnistShardSource::Examples() {
  absl::MutexLock lock(&mu_);
  if (absl::Status loaded = LoadLocked(); !loaded.ok()) return loaded;
  return *shard_;
}

int64_t FashionMnistShardSource::Count() {
  absl::MutexLock lock(&mu_);
  if (absl::Status loaded = LoadLocked(); !loaded.ok()) {
    LOG(WARNING) << "Fashion-MNIST shard: " << loaded;
    return 0;
  }
  return shard_->num_examples;
}

StoreSource::StoreSource(ExampleStore* store, std::string population,
                         int64_t max_examples)
    : store_(store),
      population_(std::move(population)),
      max_examples_(max_examples) {}

absl::StatusOr<data::ImageDataset> StoreSource::Examples() {
  return store_->Load(population_, max_examples_);
}

namespace {

// A population not defined yet holds nothing; that is not worth a warning
// at every check-in.
void LogUnlessUndefined(const absl::Status& status) {
  if (!absl::IsNotFound(status)) LOG(WARNING) << status;
}

}  // namespace

int64_t StoreSource::Count() {
  absl::StatusOr<int64_t> count = store_->Count(population_);
  if (!count.ok()) {
    LogUnlessUndefined(count.status());
    return 0;
  }
  return max_examples_ > 0 ? std::min(*count, max_examples_) : *count;
}

int64_t StoreSource::Added() {
  absl::StatusOr<ExampleStats> stats = store_->Stats(population_);
  if (!stats.ok()) {
    LogUnlessUndefined(stats.status());
    return 0;
  }
  return stats->added;
}

}  // namespace cohort::client
