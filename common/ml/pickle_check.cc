#include "common/ml/pickle_check.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cohort::ml::internal {
namespace {

// Memo indices beyond this are refused: LibTorch sizes its memo table by
// the largest index, so a huge one is a memory attack, and the pickler
// numbers entries from 0 one by one.
constexpr uint64_t kMaxMemo = uint64_t{1} << 24;

// The pickle machine with its values reduced to "an item" or "a MARK".
class Machine {
 public:
  explicit Machine(absl::string_view p) : p_(p) {}

  absl::Status Run() {
    while (at_ < p_.size()) {
      op_at_ = at_;
      op_ = static_cast<uint8_t>(p_[at_++]);
      if (op_ == '.') return Stop();
      if (absl::Status s = Step(); !s.ok()) return s;
    }
    return absl::InvalidArgumentError("pickle ends without STOP");
  }

 private:
  absl::Status Fault(absl::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("pickle opcode 0x", absl::Hex(op_, absl::kZeroPad2),
                     " at byte ", op_at_, ": ", why));
  }

  // Reads an n-byte little-endian operand.
  bool Operand(size_t n, uint64_t* value) {
    if (p_.size() - at_ < n) return false;
    *value = 0;
    for (size_t i = 0; i < n; ++i) {
      *value |= uint64_t{static_cast<uint8_t>(p_[at_ + i])} << (8 * i);
    }
    at_ += n;
    return true;
  }

  // Skips a length-prefixed operand whose length takes `n` bytes.
  absl::Status Counted(size_t n) {
    uint64_t length = 0;
    if (!Operand(n, &length)) return Fault("operand cut short");
    if (length > p_.size() - at_) return Fault("length past the end");
    at_ += length;
    return Push();
  }

  // Skips a newline-terminated operand (GLOBAL's module and name).
  bool Line() {
    const size_t end = p_.find('\n', at_);
    if (end == absl::string_view::npos) return false;
    at_ = end + 1;
    return true;
  }

  absl::Status Push() {
    stack_.push_back(false);
    return absl::OkStatus();
  }
  // Pops `n` items, none of them a MARK.
  absl::Status Pop(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (stack_.empty() || stack_.back()) {
        return Fault("pops more items than the stack holds");
      }
      stack_.pop_back();
    }
    return absl::OkStatus();
  }
  // Pops down to the last MARK and the MARK; the items popped.
  absl::Status PopMark(size_t* items) {
    *items = 0;
    while (!stack_.empty() && !stack_.back()) {
      stack_.pop_back();
      ++*items;
    }
    if (stack_.empty()) return Fault("no MARK to pop to");
    stack_.pop_back();
    return absl::OkStatus();
  }
  // There is an item (a list, dict or object) on top to add to.
  absl::Status Top() { return Pop(1).ok() ? Push() : Fault("nothing to add to"); }

  absl::Status Put(size_t n) {
    uint64_t index = 0;
    if (!Operand(n, &index)) return Fault("operand cut short");
    if (stack_.empty() || stack_.back()) return Fault("nothing to memoize");
    if (index > kMaxMemo || index > memo_.size()) {
      return Fault("memo index out of order");
    }
    if (index == memo_.size()) memo_.push_back(true);
    return absl::OkStatus();
  }
  absl::Status Get(size_t n) {
    uint64_t index = 0;
    if (!Operand(n, &index)) return Fault("operand cut short");
    if (index >= memo_.size()) return Fault("reads a memo entry never written");
    return Push();
  }

  absl::Status Collection(bool pairs) {
    size_t items = 0;
    if (absl::Status s = PopMark(&items); !s.ok()) return s;
    if (pairs && items % 2 != 0) return Fault("a key without a value");
    return Push();
  }
  // APPENDS and SETITEMS: the items above the MARK go into the item below.
  absl::Status AddMarked(bool pairs) {
    size_t items = 0;
    if (absl::Status s = PopMark(&items); !s.ok()) return s;
    if (pairs && items % 2 != 0) return Fault("a key without a value");
    return Top();
  }

  absl::Status Step();
  // The opcodes that push one value read from their operand.
  absl::Status PushOperand();

  absl::Status Stop() {
    if (stack_.size() != 1 || stack_.back()) {
      return Fault("STOP needs exactly one item on the stack");
    }
    return absl::OkStatus();
  }

  absl::string_view p_;
  size_t at_ = 0;
  size_t op_at_ = 0;
  uint8_t op_ = 0;
  std::vector<bool> stack_;  // true: a MARK.
  std::vector<bool> memo_;
};

absl::Status Machine::Step() {
  uint64_t skip = 0;
  switch (op_) {
    case 0x80:  // PROTO
      if (op_at_ != 0) return Fault("PROTO must come first");
      if (!Operand(1, &skip) || skip > 3) return Fault("protocol 0 to 3 only");
      return absl::OkStatus();
    case '(':  // MARK
      stack_.push_back(true);
      return absl::OkStatus();
    case '0':  // POP
      return Pop(1);
    case '1': {  // POP_MARK
      size_t items = 0;
      return PopMark(&items);
    }
    case '2':  // DUP: the top item, twice
      if (stack_.empty() || stack_.back()) return Fault("nothing to copy");
      return Push();
    case ')': case ']': case '}': case 'N': case 0x88: case 0x89:
      return Push();  // EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT, NONE, booleans
    case 't': return Collection(false);  // TUPLE
    case 'l': return Collection(false);  // LIST
    case 'd': return Collection(true);   // DICT
    case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
      if (absl::Status s = Pop(op_ - 0x84); !s.ok()) return s;
      return Push();
    }
    case 'a': {  // APPEND
      if (absl::Status s = Pop(1); !s.ok()) return s;
      return Top();
    }
    case 'e': return AddMarked(false);  // APPENDS
    case 's': {  // SETITEM
      if (absl::Status s = Pop(2); !s.ok()) return s;
      return Top();
    }
    case 'u': return AddMarked(true);  // SETITEMS
    case 'q': return Put(1);  // BINPUT
    case 'r': return Put(4);  // LONG_BINPUT
    case 'h': return Get(1);  // BINGET
    case 'j': return Get(4);  // LONG_BINGET
    case 'Q':  // BINPERSID: the persistent id becomes the object
      return Top();
    // REDUCE (callable, args), NEWOBJ (class, args), BUILD (object, state)
    case 'R': case 0x81: case 'b': {
      if (absl::Status s = Pop(2); !s.ok()) return s;
      return Push();
    }
    default:
      return PushOperand();
  }
}

absl::Status Machine::PushOperand() {
  uint64_t skip = 0;
  switch (op_) {
    case 'K': return Operand(1, &skip) ? Push() : Fault("operand cut short");
    case 'M': return Operand(2, &skip) ? Push() : Fault("operand cut short");
    case 'J': return Operand(4, &skip) ? Push() : Fault("operand cut short");
    case 'G': return Operand(8, &skip) ? Push() : Fault("operand cut short");
    case 0x8a:  // LONG1
      if (!Operand(1, &skip) || skip > 8) return Fault("LONG1 of more than 8 bytes");
      return Operand(skip, &skip) ? Push() : Fault("operand cut short");
    case 'X': case 'B': return Counted(4);  // BINUNICODE, BINBYTES
    case 0x8c: case 'C': case 'U': return Counted(1);  // SHORT_BIN*
    case 0x8d: case 0x8e: return Counted(8);  // BINUNICODE8, BINBYTES8
    case 'c':  // GLOBAL
      return Line() && Line() ? Push() : Fault("GLOBAL names cut short");
    default:
      return Fault("not an opcode TorchScript writes");
  }
}

}  // namespace

absl::Status CheckPickleStructure(absl::string_view pickle) {
  return Machine(pickle).Run();
}

}  // namespace cohort::ml::internal
