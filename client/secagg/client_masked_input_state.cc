#include <openssl/crypto.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
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
                          DeriveShareKey(*c.enc_key, *c.enc_peer[from],
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

absl::StatusOr<std::vector<uint64_t>> ClientMaskedInputState::MaskInput() {
  ClientContext& c = ctx();
  // All masks go on in one pass over y (crypto::AddMasks), so a client with
  // k neighbours reads and writes its vector once, not k + 1 times.
  std::vector<crypto::MaskSeed> masks;
  masks.reserve(c.held.size() + 1);
  masks.push_back(crypto::MaskSeed{c.self_seed, false});
  for (const HeldSharePair& h : c.held) {
    const int j = h.owner;
    COHORT_ASSIGN_OR_RETURN(auto seed,
                            DerivePairwiseSeed(*c.mask_key, *c.mask_peer[j],
                                               c.config.round_id, c.id, j));
    // The lower id adds the pair's mask and the higher one subtracts it.
    masks.push_back(crypto::MaskSeed{seed, c.id > j});
  }
  std::vector<uint64_t> y = c.input;
  absl::Status s = crypto::AddMasks(masks, c.config.bits, absl::MakeSpan(y));
  OPENSSL_cleanse(masks.data(), masks.size() * sizeof(crypto::MaskSeed));
  COHORT_RETURN_IF_ERROR(s);
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
    absl::Status s = DecryptShare(share);
    if (s.code() == absl::StatusCode::kUnauthenticated) {
      // A forged share: report its sender instead of failing this client.
      LOG(WARNING) << "SecAgg client " << ctx().id << ": " << s;
      rejected.push_back(share.peer);
      continue;
    }
    COHORT_RETURN_IF_ERROR(s);
  }
  COHORT_ASSIGN_OR_RETURN(auto y, MaskInput());
  ctx().sender->Send(MaskedInput{std::move(y), std::move(rejected)});
  return std::make_unique<ClientUnmaskingState>(TakeContext());
}

}  // namespace cohort::secagg
