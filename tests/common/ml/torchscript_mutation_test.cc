// TorchScript import against hostile files: a valid module is changed in
// seeded, random ways and every result is imported. Bad input must get a
// clear error; anything accepted must be a model Cohort can use (finite
// weights, an evaluation that runs).
//
// This is a mutation test, not a libFuzzer target: the fuzz build uses
// clang-14, which cannot compile Debian's LibTorch headers in C++20, and
// libFuzzer no longer takes gcc's coverage. So the mutations are chosen by
// hand to reach each layer of the loader: the zip container, the pickled
// module (data.pkl), the TorchScript code it compiles, and the tensor
// storages. COHORT_TORCHSCRIPT_MUTANTS sets how many (default 300; the
// figures in docs/RELIABILITY.md come from a longer run), and
// COHORT_TORCHSCRIPT_MUTANTS_VERBOSE=1 prints each one and its outcome.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/ml/model.h"
#include "common/ml/testing/torchscript_archive.h"
#include "common/ml/testing/torchscript_fixtures.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"
#include "tests/common/ml/temp_path.h"

namespace cohort::ml {
namespace {

using testing::ArchiveRecord;
using testing::TempPath;

std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> bytes = base::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

void WriteAll(const std::string& path, const std::string& bytes) {
  const absl::Status s = base::WriteFileAtomically(path, bytes);
  EXPECT_TRUE(s.ok()) << s;
}

int EnvInt(const char* name, int otherwise) {
  const char* env = std::getenv(name);
  return env != nullptr ? std::atoi(env) : otherwise;
}

class Mutator {
 public:
  Mutator(std::string file, std::vector<ArchiveRecord> records, uint64_t seed)
      : file_(std::move(file)), records_(std::move(records)), rng_(seed) {}

  // Writes the next mutant to `path`; returns what was done to it.
  std::string Next(const std::string& path) {
    switch (Pick(8)) {
      case 0: {  // The zip container: bytes flipped anywhere.
        std::string bytes = file_;
        const int flips = 1 + Pick(8);
        for (int i = 0; i < flips; ++i) bytes[Pick(bytes.size())] ^= Byte();
        WriteAll(path, bytes);
        return "file bytes flipped";
      }
      case 1:  // The zip container cut short.
        WriteAll(path, file_.substr(0, Pick(file_.size())));
        return "file truncated";
      default:
        return MutateRecord(path);
    }
  }

 private:
  size_t Pick(size_t n) { return n == 0 ? 0 : rng_() % n; }
  char Byte() { return static_cast<char>(1 + Pick(255)); }

  std::string MutateRecord(const std::string& path) {
    std::vector<ArchiveRecord> records = records_;
    ArchiveRecord& r = records[Pick(records.size())];
    std::string what;
    switch (Pick(6)) {
      case 0: {
        const int flips = 1 + Pick(4);
        for (int i = 0; i < flips && !r.bytes.empty(); ++i) {
          r.bytes[Pick(r.bytes.size())] ^= Byte();
        }
        what = "bytes flipped in ";
        break;
      }
      case 1:
        r.bytes.resize(Pick(r.bytes.size()));
        what = "truncated ";
        break;
      case 2:
        for (int i = 0, n = 1 + Pick(64); i < n; ++i) r.bytes.push_back(Byte());
        what = "garbage appended to ";
        break;
      case 3: {  // A number in the pickle or the code changed.
        std::vector<size_t> digits;
        for (size_t i = 0; i < r.bytes.size(); ++i) {
          if (r.bytes[i] >= '0' && r.bytes[i] <= '9') digits.push_back(i);
        }
        static const char* kNumbers[] = {"0", "-1", "3", "65536",
                                         "99999999999", "1e308"};
        if (!digits.empty()) {
          r.bytes.replace(digits[Pick(digits.size())], 1, kNumbers[Pick(6)]);
        }
        what = "a number changed in ";
        break;
      }
      case 4: {  // Tensor data overwritten with any float bits, NaN and Inf.
        for (size_t i = 0; i + 4 <= r.bytes.size(); i += 4) {
          if (Pick(4) != 0) continue;
          const uint32_t bits = static_cast<uint32_t>(rng_());
          std::memcpy(&r.bytes[i], &bits, 4);
        }
        what = "float bits written into ";
        break;
      }
      default: {
        const std::string name = r.name;
        records.erase(records.begin() + (&r - records.data()));
        absl::Status s = testing::WriteTorchScriptArchive(path, records);
        EXPECT_TRUE(s.ok()) << s;
        return absl::StrCat("record dropped: ", name);
      }
    }
    absl::Status s = testing::WriteTorchScriptArchive(path, records);
    EXPECT_TRUE(s.ok()) << s;
    return absl::StrCat(what, r.name);
  }

  const std::string file_;
  const std::vector<ArchiveRecord> records_;
  std::mt19937_64 rng_;
};

bool AllFinite(const cohort::v1::Weights& weights) {
  for (const auto& t : weights.tensors()) {
    for (float v : model::FloatView(t)) {
      if (!std::isfinite(v)) return false;
    }
  }
  return true;
}

// A valid module whose record `name` is replaced by `bytes`; its path.
std::string WithRecord(const std::string& name, const std::string& bytes) {
  const std::string seed = TempPath("regression_seed.pt");
  EXPECT_TRUE(testing::WriteTorchScriptFixture(testing::Fixture::kChainCnn,
                                               seed)
                  .ok());
  auto records = testing::ReadTorchScriptArchive(seed);
  EXPECT_TRUE(records.ok()) << records.status();
  bool found = false;
  for (ArchiveRecord& r : *records) {
    if (r.name == name) {
      r.bytes = bytes;
      found = true;
    }
  }
  EXPECT_TRUE(found) << name;
  const std::string path = TempPath("regression.pt");
  EXPECT_TRUE(testing::WriteTorchScriptArchive(path, *records).ok());
  return path;
}

// Found by the mutation test: LibTorch's unpickler corrupted its heap on a
// BUILD with one item on the stack (free(): invalid size).
TEST(TorchScriptMutationTest, MalformedPickleIsRefusedBeforeLibTorchReadsIt) {
  auto model = Model::ImportTorchScript(
      WithRecord("constants.pkl", std::string("\x80\x02)b", 4)));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(model.status().message(),
                                "constants.pkl: pickle opcode 0x62 at byte 3"))
      << model.status();
}

// Found by the mutation test: a storage record cut short loaded, and the
// module's forward read past its buffer (a segfault in addmm).
TEST(TorchScriptMutationTest, TruncatedStorageRecordIsRefusedNotRead) {
  const std::string seed = TempPath("truncated_seed.pt");
  ASSERT_TRUE(testing::WriteTorchScriptFixture(testing::Fixture::kChainCnn,
                                               seed)
                  .ok());
  auto records = testing::ReadTorchScriptArchive(seed);
  ASSERT_TRUE(records.ok()) << records.status();
  for (const ArchiveRecord& r : *records) {
    if (r.name.rfind("data/", 0) != 0) continue;
    auto model = Model::ImportTorchScript(
        WithRecord(r.name, r.bytes.substr(0, r.bytes.size() / 2)));
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
        << r.name;
    EXPECT_TRUE(absl::StrContains(model.status().message(),
                                  "reaches past the data the file holds"))
        << model.status();
  }
}

// Found by the mutation test: the TorchScript compiler's errors are not
// c10::Error; they came back INTERNAL "LibTorch: " with an empty reason.
TEST(TorchScriptMutationTest, CodeThatDoesNotCompileIsInvalidArgumentWithItsReason) {
  auto model = Model::ImportTorchScript(
      WithRecord("code/__torch__/cohort_fixture.py", "class ("));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
      << model.status();
  EXPECT_TRUE(absl::StrContains(model.status().message(), "expected"))
      << model.status();
}

TEST(TorchScriptMutationTest, HostileModulesAreRefusedOrUsable) {
  SetNumThreads(1);
  const std::string seed_path = TempPath("seed.pt");
  ASSERT_TRUE(testing::WriteTorchScriptFixture(testing::Fixture::kChainCnn,
                                               seed_path)
                  .ok());
  ASSERT_TRUE(Model::ImportTorchScript(seed_path).ok());
  auto records = testing::ReadTorchScriptArchive(seed_path);
  ASSERT_TRUE(records.ok()) << records.status();
  // Rewritten unchanged, the archive still imports: the mutations below
  // start from a valid module.
  const std::string rewritten = TempPath("rewritten.pt");
  ASSERT_TRUE(testing::WriteTorchScriptArchive(rewritten, *records).ok());
  ASSERT_TRUE(Model::ImportTorchScript(rewritten).ok());

  const data::ImageDataset probe = testing::SquaresDataset(2, 3);
  Mutator mutator(ReadAll(seed_path), *records, /*seed=*/16);
  std::map<std::string, int> outcomes;
  const std::string path = TempPath("mutant.pt");
  const int count = EnvInt("COHORT_TORCHSCRIPT_MUTANTS", 300);
  // To replay mutant k: COHORT_TORCHSCRIPT_MUTANTS_FROM=k (the ones before
  // are made, not imported).
  const int from = EnvInt("COHORT_TORCHSCRIPT_MUTANTS_FROM", 0);
  for (int i = 0; i < count; ++i) {
    const std::string what = mutator.Next(path);
    if (i < from) continue;
    SCOPED_TRACE(absl::StrCat("mutant ", i, ": ", what));
    if (std::getenv("COHORT_TORCHSCRIPT_MUTANTS_VERBOSE") != nullptr) {
      std::printf("mutant %d: %s\n", i, what.c_str());
      std::fflush(stdout);
    }
    auto model = Model::ImportTorchScript(path);
    if (!model.ok()) {
      // A fault of the file, said in words: never INTERNAL, never a
      // message that stops at its prefix.
      EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
          << model.status();
      EXPECT_FALSE(absl::EndsWith(model.status().message(), ": "))
          << model.status();
      if (std::getenv("COHORT_TORCHSCRIPT_MUTANTS_VERBOSE") != nullptr) {
        std::printf("%s -> %s\n", what.c_str(),
                    model.status().ToString().substr(0, 300).c_str());
      }
      ++outcomes[absl::StatusCodeToString(model.status().code())];
      continue;
    }
    ++outcomes["accepted"];
    EXPECT_TRUE(AllFinite((*model)->GetWeights()));
    auto eval = (*model)->Evaluate(probe);
    EXPECT_TRUE(eval.ok()) << eval.status();
  }
  std::string summary;
  for (const auto& [outcome, n] : outcomes) {
    absl::StrAppend(&summary, " ", outcome, "=", n);
  }
  std::printf("%d mutants:%s\n", count, summary.c_str());
}

}  // namespace
}  // namespace cohort::ml
