#include "common/ml/pickle_check.h"

#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::ml::internal {
namespace {

using ::testing::HasSubstr;
using namespace std::string_view_literals;

// The check on a literal written with ""sv, so it may hold NUL bytes.
absl::Status Check(std::string_view pickle) {
  return CheckPickleStructure(absl::string_view(pickle.data(), pickle.size()));
}

std::string Refusal(std::string_view pickle) {
  const absl::Status s = Check(pickle);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

TEST(PickleCheckTest, PicklesTorchScriptWritesAreAccepted) {
  // constants.pkl of a module without constants: ().
  EXPECT_TRUE(Check("\x80\x02)."sv).ok());
  // A dict built with SETITEMS, memoized and read back, in a tuple; a
  // persistent id (storage) and a REDUCE on a GLOBAL; LONG1 and BINFLOAT.
  const std::string_view pickle =
      "\x80\x02}q\x00(X\x01\x00\x00\x00" "aK\x01u"
      "ctorch._utils\n_rebuild_tensor_v2\nq\x01"
      "(X\x07\x00\x00\x00storageQ\x8a\x02\xff\x7fG\x3f\xf0\x00\x00"
      "\x00\x00\x00\x00tRh\x00\x87."sv;
  EXPECT_TRUE(Check(pickle).ok()) << Check(pickle);
}

// The fault torchscript_mutation_test found: LibTorch's unpickler popped a
// second item that was not there and corrupted the heap.
TEST(PickleCheckTest, BuildOnASingleItemIsRefused) {
  EXPECT_THAT(Refusal("\x80\x02)b"sv),
              HasSubstr("opcode 0x62 at byte 3: pops more items than the "
                        "stack holds"));
}

TEST(PickleCheckTest, EveryPopNeedsItemsAboveTheMark) {
  EXPECT_THAT(Refusal("\x80\x02(R."), HasSubstr("pops more items"));
  EXPECT_THAT(Refusal("\x80\x02N(0."), HasSubstr("pops more items"));
  EXPECT_THAT(Refusal("\x80\x02Nt."), HasSubstr("no MARK"));
  EXPECT_THAT(Refusal("\x80\x02(N\x86."), HasSubstr("pops more items"));
  EXPECT_THAT(Refusal("\x80\x02]a."), HasSubstr("nothing to add to"));
  EXPECT_THAT(Refusal("\x80\x02}(Nu."), HasSubstr("a key without a value"));
}

TEST(PickleCheckTest, MemoIsReadOnlyWhereWritten) {
  EXPECT_THAT(Refusal("\x80\x02h\x00."sv), HasSubstr("never written"));
  EXPECT_THAT(Refusal("\x80\x02Nq\x05."), HasSubstr("out of order"));
  EXPECT_THAT(Refusal("\x80\x02Nr\xff\xff\xff\x7f."sv),
              HasSubstr("out of order"));
  EXPECT_THAT(Refusal("\x80\x02q\x00."sv),
              HasSubstr("nothing to memoize"));
}

TEST(PickleCheckTest, OperandsMustFitTheBytes) {
  EXPECT_THAT(Refusal("\x80\x02X\xff\xff\x00\x00" "ab."sv),
              HasSubstr("length past the end"));
  EXPECT_THAT(Refusal("\x80\x02J\x01"), HasSubstr("cut short"));
  EXPECT_THAT(Refusal("\x80\x02\x8a\x09"), HasSubstr("more than 8 bytes"));
  EXPECT_THAT(Refusal("\x80\x02" "cmodule"), HasSubstr("GLOBAL"));
}

TEST(PickleCheckTest, StopNeedsExactlyOneItem) {
  EXPECT_THAT(Refusal("\x80\x02."), HasSubstr("exactly one item"));
  EXPECT_THAT(Refusal("\x80\x02NN."), HasSubstr("exactly one item"));
  EXPECT_THAT(Refusal("\x80\x02(."), HasSubstr("exactly one item"));
  EXPECT_THAT(Refusal("\x80\x02N"), HasSubstr("without STOP"));
}

TEST(PickleCheckTest, OnlyProtocolTwoOpcodesInTheirPlace) {
  EXPECT_THAT(Refusal("N\x80\x02."), HasSubstr("PROTO must come first"));
  EXPECT_THAT(Refusal("\x80\x05N."), HasSubstr("protocol 0 to 3"));
  EXPECT_THAT(Refusal("\x80\x02\x95N."), HasSubstr("not an opcode"));
}

}  // namespace
}  // namespace cohort::ml::internal
