#ifndef COHORT_CLIENT_EXAMPLES_EXAMPLE_SOURCE_H_
#define COHORT_CLIENT_EXAMPLES_EXAMPLE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/data/dataset.h"

namespace cohort::client {

class ExampleStore;

// Where a device's training examples come from: the seam between the agent
// and its data, so the Fashion-MNIST demo shard and applications' own
// examples in an ExampleStore reach the trainer the same way.
// Implementations are thread-safe.
class ExampleSource {
 public:
  virtual ~ExampleSource() = default;

  // The examples to train on now, as the trainer reads them. Errors are the
  // implementation's (NOT_FOUND for missing data, DATA_LOSS for a damaged
  // store, ...).
  virtual absl::StatusOr<data::ImageDataset> Examples() = 0;

  // How many examples Examples() would return now; 0 when they cannot be
  // read (the error is logged, and Examples() returns it). Cheaper than
  // Examples(), for eligibility rules such as a minimum example count.
  virtual int64_t Count() = 0;

  // Examples ever added to the source, never lowered by retention: the
  // agent's min_new_examples rule counts the difference since its last
  // round. 0 when it cannot be read (logged).
  virtual int64_t Added() = 0;
};

// The demo and test source: a fixed shard of Fashion-MNIST, loaded by
// `loader` (the agent passes its LoadDeviceData). The shard does not change,
// so the first successful load is kept and each Examples() returns a copy;
// a failed load is retried at the next call.
class FashionMnistShardSource final : public ExampleSource {
 public:
  using Loader = std::function<absl::StatusOr<data::ImageDataset>()>;

  explicit FashionMnistShardSource(Loader loader);

  // The loader's errors.
  absl::StatusOr<data::ImageDataset> Examples() override;
  int64_t Count() override;
  // The shard never grows: Count().
  int64_t Added() override { return Count(); }

 private:
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Loader loader_;
  absl::Mutex mu_;
  std::optional<data::ImageDataset> shard_ ABSL_GUARDED_BY(mu_);
};

// Applications' examples: one population of an ExampleStore, newest first,
// at most `max_examples` of them (0: all), never older than the store's
// max_age. Reads the store at every call, so new examples count at once.
class StoreSource final : public ExampleSource {
 public:
  // `store` is not owned and must outlive the source.
  StoreSource(ExampleStore* store, std::string population,
              int64_t max_examples = 0);

  // ExampleStore::Load's errors.
  absl::StatusOr<data::ImageDataset> Examples() override;
  // 0 for a population not defined yet (an application defines it), not
  // logged; other errors are logged.
  int64_t Count() override;
  // ExampleStats::added of the population.
  int64_t Added() override;

  const std::string& population() const { return population_; }

 private:
  ExampleStore* const store_;
  const std::string population_;
  const int64_t max_examples_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_EXAMPLE_SOURCE_H_
