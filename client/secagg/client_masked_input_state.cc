#include <openssl/crypto.h>

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "client/secagg/secagg_client.h"
#include "client/secagg/secagg_client_state.h"
#include "common/base/status_macros.h"
#include "common/crypto/aes_ctr_prg.h"
#include "common/crypto/aes_gcm.h"
#include "common/secagg/secagg_derivation.h"
#include "glog/logging.h"

namespace cohort::secagg {

absl::Status ClientMaskedInputState::DecryptShare(const EncryptedShare& share) {
  ClientContext& c = ctx();
  const int from = share.peer;
  if (!std::binary_search(c.sent_to.begin(), c.sent_to.end(), from)) {
    return absl::InvalidArgumentError(
        absl::StrCat("share from unexpected client ", from));
  }
  for (const HeldSharePair& h : c.held) {
    if (h.owner == from) {
      return absl::InvalidArgumentError(
          absl::StrCat("two shares from client ", from));
    }
  }
  COHORT_ASSIGN_OR_RETURN(auto key,
                          DeriveShareKey(*c.enc_key, *c.enc_peer[c.Slot(from)],
                                         c.config.round_id, c.id, from));
  const auto nonce = ShareNonce(from);
  const std::string ad = ShareAssociatedData(c.config.round_id, from, c.id);
  auto plain =
      crypto::AesGcmOpen(key, nonce, share.ciphertext, internal::AsBytes(ad));
  if (!plain.ok() || plain->size() != kSharePlaintextSize) {
    return absl::UnauthenticatedError(absl::StrCat(
        "SecAgg share from client ", from,
        " failed AES-GCM authentication: ", plain.status().message()));
  }
  if (GetU32(plain->data()) != static_cast<uint32_t>(from) ||
      GetU32(plain->data() + 4) != static_cast<uint32_t>(c.id)) {
    return absl::UnauthenticatedError(
        absl::StrCat("share from client ", from, " names the wrong pair"));
  }
  constexpr size_t kE = FieldElement::kEncodedBytes;
  const absl::Span<const uint8_t> body(*plain);
  auto seed_share = FieldElement::FromBytes(body.subspan(8, kE));
  auto key_share = FieldElement::FromBytes(body.subspan(8 + kE, kE));
  if (!seed_share.ok() || !key_share.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("share from client ", from, " is not a field element"));
  }
  c.held.push_back(HeldSharePair{from, *seed_share, *key_share});
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> ClientMaskedInputState::MaskInput(
    const std::vector<int32_t>& rejected) {
  ClientContext& c = ctx();
  // All masks go on in one pass over y (crypto::AddMasks), so a client with
  // k neighbours reads and writes its vector once, not k + 1 times. A pair
  // mask for every neighbour whose share arrived, decrypted or not: the
  // server keeps a forger in the sum, so its pair masks must cancel.
  std::vector<int> peers;
  for (const HeldSharePair& h : c.held) peers.push_back(h.owner);
  peers.insert(peers.end(), rejected.begin(), rejected.end());
  std::vector<crypto::MaskSeed> masks;
  masks.reserve(peers.size() + 1);  // no reallocation leaves seeds behind
  // The seeds are wiped on every way out.
  absl::Cleanup wipe = [&masks] {
    OPENSSL_cleanse(masks.data(), masks.size() * sizeof(crypto::MaskSeed));
  };
  masks.push_back(crypto::MaskSeed{c.self_seed, false});
  for (const int j : peers) {
    const int slot = c.Slot(j);
    if (slot < 0 || !c.mask_peer[slot].has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("share from client ", j, ", which advertised no key"));
    }
    auto seed = DerivePairwiseSeed(*c.mask_key, *c.mask_peer[slot],
                                   c.config.round_id, c.id, j);
    if (!seed.ok()) return seed.status();
    // The lower id adds the pair's mask and the higher one subtracts it.
    masks.push_back(crypto::MaskSeed{*seed, c.id > j});
    OPENSSL_cleanse(seed->data(), seed->size());
  }
  // The input is asked for once, now; y is it, masked in place.
  absl::StatusOr<std::vector<uint64_t>> input = c.input();
  absl::Status s = input.ok() ? CheckInput(c.config, *input) : input.status();
  if (!s.ok()) return s;
  std::vector<uint64_t> y = *std::move(input);
  s = crypto::AddMasks(masks, c.config.bits, absl::MakeSpan(y));
  if (!s.ok()) {
    // y may still be (partly) the plain input.
    OPENSSL_cleanse(y.data(), y.size() * sizeof(uint64_t));
    return s;
  }
  return y;
}

absl::StatusOr<std::unique_ptr<ClientState>> ClientMaskedInputState::Handle(
    const ServerToClient& message) {
  const auto* msg = std::get_if<SharesDelivery>(&message);
  if (msg == nullptr) {
    return absl::FailedPreconditionError(
        "SecAgg client expected SharesDelivery");
  }
  std::vector<int32_t> rejected;
  for (const EncryptedShare& share : msg->shares) {
    // One share a neighbour, whether the other copy decrypted or not.
    if (std::find(rejected.begin(), rejected.end(), share.peer) !=
        rejected.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("two shares from client ", share.peer));
    }
    absl::Status s = DecryptShare(share);
    if (s.code() == absl::StatusCode::kUnauthenticated) {
      // A forged share: report its sender instead of failing this client
      // (it holds no share of the sender, and still masks with it).
      LOG(WARNING) << "SecAgg client " << ctx().id << ": " << s;
      rejected.push_back(share.peer);
      continue;
    }
    COHORT_RETURN_IF_ERROR(s);
  }
  COHORT_ASSIGN_OR_RETURN(auto y, MaskInput(rejected));
  ctx().sender->Send(MaskedInput{std::move(y), std::move(rejected)});
  return std::make_unique<ClientUnmaskingState>(TakeContext());
}

}  // namespace cohort::secagg
