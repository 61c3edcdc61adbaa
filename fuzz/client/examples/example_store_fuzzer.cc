// The on-device example store (client::ExampleStore) as applications and
// the disk feed it. The first byte picks the input:
//   0: a store file of hostile bytes (damaged, truncated or crafted SQLite):
//      Open must refuse it or serve it, never crash;
//   otherwise: a run of API calls (populations, examples, batches,
//      retention, loads) decoded from the input, on a fresh store. What is
//      counted must never exceed what was accepted, and the retention limits
//      must hold after every call.

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "client/examples/example_store.h"
#include "tests/testing/fake_clock.h"

namespace {

using cohort::client::ExampleStore;

std::string StorePath() {
  static const std::string dir = [] {
    // tmpfs: every Add is a synced transaction.
    char path[] = "/dev/shm/cohort_store_fuzzer.XXXXXX";
    return std::string(mkdtemp(path));
  }();
  return dir + "/examples.db";
}

void Reset(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path + suffix);
  }
}

void ServeHostileFile(FuzzedDataProvider& in, const std::string& path,
                      cohort::testing::FakeClock* clock) {
  const std::string bytes = in.ConsumeRemainingBytesAsString();
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto store = ExampleStore::Open(path, clock);
  if (!store.ok()) return;
  (void)(*store)->TotalStats();
  auto schema = (*store)->GetPopulation("p");
  if (schema.ok()) {
    (void)(*store)->Load("p", 0);
    (void)(*store)->LoadFeatures("p", 0);
    (void)(*store)->Count("p");
  }
  (void)(*store)->ApplyRetention();
}

cohort::client::PopulationSchema Schema(FuzzedDataProvider& in) {
  cohort::client::PopulationSchema s;
  s.name = in.ConsumeBool() ? "p" : in.ConsumeRandomLengthString(8);
  const int rank = in.ConsumeIntegralInRange(0, 5);
  for (int i = 0; i < rank; ++i) {
    s.shape.push_back(in.ConsumeIntegralInRange<int64_t>(-1, 6));
  }
  s.num_classes = in.ConsumeIntegralInRange(0, 300);
  return s;
}

std::vector<float> Features(FuzzedDataProvider& in) {
  std::vector<float> v(in.ConsumeIntegralInRange<size_t>(0, 80));
  for (float& f : v) {
    f = in.ConsumeBool() ? in.ConsumeIntegralInRange(0, 255) / 255.0f
                         : in.ConsumeFloatingPoint<float>();
  }
  return v;
}

void CallApi(FuzzedDataProvider& in, ExampleStore& store,
             cohort::testing::FakeClock& clock) {
  int64_t accepted = 0;
  cohort::client::RetentionPolicy policy;
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange(0, 6)) {
      case 0:
        (void)store.DefinePopulation(Schema(in));
        break;
      case 1:
        if (store.Add("p", Features(in), in.ConsumeIntegral<int8_t>()).ok()) {
          ++accepted;
        }
        break;
      case 2: {
        std::vector<cohort::client::Example> batch(
            in.ConsumeIntegralInRange<size_t>(0, 4));
        for (auto& e : batch) {
          e.features = Features(in);
          e.label = in.ConsumeIntegralInRange<int64_t>(-1, 12);
        }
        if (store.AddBatch("p", batch).ok()) accepted += batch.size();
        break;
      }
      case 3: {
        cohort::client::RetentionPolicy p;
        p.max_count = in.ConsumeIntegralInRange<int64_t>(-1, 20);
        p.max_bytes = in.ConsumeIntegralInRange<int64_t>(-1, 4000);
        if (in.ConsumeBool()) p.max_age = absl::Seconds(in.ConsumeIntegral<uint8_t>());
        if (store.SetRetention(p).ok()) policy = p;
        break;
      }
      case 4:
        clock.Advance(absl::Seconds(in.ConsumeIntegral<uint8_t>()));
        (void)store.ApplyRetention();
        break;
      case 5:
        (void)store.Load("p", in.ConsumeIntegralInRange<int64_t>(-1, 5));
        break;
      default:
        (void)store.LoadFeatures(in.ConsumeBool() ? "p" : "q", 0);
        break;
    }
    auto total = store.TotalStats();
    if (!total.ok()) continue;
    if (total->count > accepted || total->added != accepted ||
        (policy.max_count > 0 && total->count > policy.max_count) ||
        (policy.max_bytes > 0 && total->bytes > policy.max_bytes)) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  FuzzedDataProvider in(data, size);
  const std::string path = StorePath();
  Reset(path);
  cohort::testing::FakeClock clock;
  if (in.ConsumeIntegral<uint8_t>() == 0) {
    ServeHostileFile(in, path, &clock);
    return 0;
  }
  auto store = ExampleStore::Open(path, &clock);
  if (!store.ok()) __builtin_trap();  // a fresh store always opens
  CallApi(in, **store, clock);
  return 0;
}
