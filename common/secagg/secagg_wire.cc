#include "common/secagg/secagg_wire.h"

#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/codec/bit_packing.h"

namespace cohort::secagg {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::string Str(const std::vector<uint8_t>& v) {
  return std::string(v.begin(), v.end());
}

template <typename Repeated>
std::vector<EncryptedShare> SharesFrom(const Repeated& shares) {
  std::vector<EncryptedShare> out;
  out.reserve(shares.size());
  for (const auto& s : shares) out.push_back({s.peer(), Bytes(s.ciphertext())});
  return out;
}

template <typename Repeated>
void SharesTo(const std::vector<EncryptedShare>& shares, Repeated* out) {
  for (const auto& s : shares) {
    auto* p = out->Add();
    p->set_peer(s.peer);
    p->set_ciphertext(Str(s.ciphertext));
  }
}

}  // namespace

cohort::v1::SecAggClientMessage ToProto(const ClientToServer& message,
                                        const SecAggConfig& config) {
  cohort::v1::SecAggClientMessage out;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, AdvertiseKeys>) {
          auto* a = out.mutable_advertise_keys();
          a->set_enc_public_key(Str(m.enc_public_key));
          a->set_mask_public_key(Str(m.mask_public_key));
        } else if constexpr (std::is_same_v<T, ShareKeys>) {
          SharesTo(m.shares, out.mutable_share_keys()->mutable_shares());
        } else if constexpr (std::is_same_v<T, MaskedInput>) {
          auto* a = out.mutable_masked_input();
          auto packed = codec::PackBits(m.masked, config.bits);
          // The client's own input is always in range; an error here would
          // send an empty vector, which the server rejects.
          if (packed.ok()) a->set_packed(Str(*packed));
          for (int32_t p : m.rejected_peers) a->add_rejected_peers(p);
        } else {
          auto* a = out.mutable_unmasking_response();
          for (const auto& s : m.shares) {
            auto* r = a->add_shares();
            r->set_owner(s.owner);
            r->set_kind(static_cast<int32_t>(s.kind));
            r->set_share(Str(s.share));
          }
        }
      },
      message);
  return out;
}

absl::StatusOr<ClientToServer> FromProto(
    const cohort::v1::SecAggClientMessage& m, const SecAggConfig& config) {
  using K = cohort::v1::SecAggClientMessage;
  switch (m.kind_case()) {
    case K::kAdvertiseKeys:
      return AdvertiseKeys{Bytes(m.advertise_keys().enc_public_key()),
                           Bytes(m.advertise_keys().mask_public_key())};
    case K::kShareKeys:
      return ShareKeys{SharesFrom(m.share_keys().shares())};
    case K::kMaskedInput: {
      const std::string& p = m.masked_input().packed();
      COHORT_ASSIGN_OR_RETURN(
          std::vector<uint64_t> values,
          codec::UnpackBits(
              absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(p.data()),
                                  p.size()),
              config.vector_length, config.bits));
      MaskedInput out;
      out.masked = std::move(values);
      out.rejected_peers.assign(m.masked_input().rejected_peers().begin(),
                                m.masked_input().rejected_peers().end());
      return out;
    }
    case K::kUnmaskingResponse: {
      UnmaskingResponse out;
      for (const auto& s : m.unmasking_response().shares()) {
        if (s.kind() != 1 && s.kind() != 2) {
          return absl::InvalidArgumentError("unknown revealed share kind");
        }
        out.shares.push_back(
            {s.owner(), static_cast<ShareKind>(s.kind()), Bytes(s.share())});
      }
      return out;
    }
    default:
      return absl::InvalidArgumentError("not a SecAgg+ protocol message");
  }
}

cohort::v1::SecAggServerMessage ToProto(const ServerToClient& message) {
  cohort::v1::SecAggServerMessage out;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, KeysBroadcast>) {
          // Set even with no neighbours: an unset kind is no message at all.
          auto* keys = out.mutable_keys();
          for (const auto& p : m.neighbours) {
            auto* k = keys->add_neighbours();
            k->set_id(p.id);
            k->set_enc_public_key(Str(p.enc_public_key));
            k->set_mask_public_key(Str(p.mask_public_key));
          }
        } else if constexpr (std::is_same_v<T, SharesDelivery>) {
          SharesTo(m.shares, out.mutable_shares()->mutable_shares());
        } else if constexpr (std::is_same_v<T, UnmaskingRequest>) {
          auto* r = out.mutable_unmasking_request();
          for (int32_t s : m.survivors) r->add_survivors(s);
          for (int32_t d : m.dropped) r->add_dropped(d);
        } else {
          out.mutable_abort()->set_reason(m.reason);
        }
      },
      message);
  return out;
}

absl::StatusOr<ServerToClient> FromProto(
    const cohort::v1::SecAggServerMessage& m) {
  using K = cohort::v1::SecAggServerMessage;
  switch (m.kind_case()) {
    case K::kKeys: {
      KeysBroadcast out;
      for (const auto& p : m.keys().neighbours()) {
        out.neighbours.push_back({p.id(), Bytes(p.enc_public_key()),
                                  Bytes(p.mask_public_key())});
      }
      return out;
    }
    case K::kShares:
      return SharesDelivery{SharesFrom(m.shares().shares())};
    case K::kUnmaskingRequest: {
      UnmaskingRequest out;
      out.survivors.assign(m.unmasking_request().survivors().begin(),
                           m.unmasking_request().survivors().end());
      out.dropped.assign(m.unmasking_request().dropped().begin(),
                         m.unmasking_request().dropped().end());
      return out;
    }
    case K::kAbort:
      return AbortRound{m.abort().reason()};
    default:
      return absl::InvalidArgumentError("not a SecAgg+ protocol message");
  }
}

cohort::v1::SecAggBegin MakeBegin(const BeginParams& p) {
  cohort::v1::SecAggBegin b;
  b.set_round_id(static_cast<int64_t>(p.config.round_id));
  b.set_client_id(p.client_id);
  b.set_num_clients(p.config.n);
  b.set_degree(p.config.k);
  b.set_threshold(p.config.t);
  b.set_modulus_bits(p.config.bits);
  b.set_vector_length(p.config.vector_length);
  b.set_graph_seed(p.config.graph_seed);
  auto* e = b.mutable_encoding();
  e->set_clip_norm(p.encoding.params.clip_norm);
  e->set_scale(p.encoding.params.scale);
  e->set_rotate(p.encoding.params.rotate);
  e->set_rotation_seed(p.encoding.params.rotation_seed);
  e->set_example_cap(p.encoding.example_cap);
  e->set_loss_cap(p.encoding.loss_cap);
  e->set_loss_scale(p.encoding.loss_scale);
  e->set_dimension(p.encoding.dimension);
  e->set_field_classes(p.encoding.field.classes);
  e->set_field_confidence_bins(p.encoding.field.confidence_bins);
  e->set_field_features(p.encoding.field.features);
  e->set_noise_stddev(p.encoding.noise_stddev);
  e->set_rounding_bound(p.encoding.rounding_bound);
  if (p.update_scale != 1.0) b.set_update_scale(p.update_scale);
  return b;
}

absl::StatusOr<BeginParams> ParseBegin(const cohort::v1::SecAggBegin& b) {
  auto bad = [](const char* field) {
    return absl::InvalidArgumentError(
        absl::StrCat("SecAggBegin.", field, " is out of range"));
  };
  BeginParams p;
  if (b.num_clients() < 2 || b.num_clients() > kMaxClients) return bad("num_clients");
  if (b.client_id() < 0 || b.client_id() >= b.num_clients()) return bad("client_id");
  if (b.degree() < 1 || b.degree() >= b.num_clients()) return bad("degree");
  if (b.threshold() < 1 || b.threshold() > b.degree()) return bad("threshold");
  if (b.round_id() < 0) return bad("round_id");
  p.config.n = b.num_clients();
  p.config.k = b.degree();
  p.config.t = b.threshold();
  p.config.bits = b.modulus_bits();
  p.config.vector_length = b.vector_length();
  p.config.graph_seed = b.graph_seed();
  p.config.round_id = static_cast<uint64_t>(b.round_id());
  p.client_id = b.client_id();
  if (b.update_scale() != 0) {
    if (!(b.update_scale() > 0 && b.update_scale() <= 1)) return bad("update_scale");
    p.update_scale = b.update_scale();
  }
  const auto& e = b.encoding();
  p.encoding.params.clip_norm = e.clip_norm();
  p.encoding.params.scale = e.scale();
  p.encoding.params.rotate = e.rotate();
  p.encoding.params.rotation_seed = e.rotation_seed();
  p.encoding.params.bits = b.modulus_bits();
  p.encoding.example_cap = e.example_cap();
  p.encoding.loss_cap = e.loss_cap();
  p.encoding.loss_scale = e.loss_scale();
  p.encoding.dimension = e.dimension();
  p.encoding.field = FieldLayout{.classes = e.field_classes(),
                                 .confidence_bins = e.field_confidence_bins(),
                                 .features = e.field_features()};
  p.encoding.noise_stddev = e.noise_stddev();
  p.encoding.rounding_bound = e.rounding_bound();
  if (absl::Status s = ValidateUpdateEncoding(p.encoding); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SecAggBegin.encoding: ", s.message()));
  }
  if (p.config.bits < 1 || p.config.bits > 62 ||
      InputLength(p.encoding) != p.config.vector_length) {
    return bad("vector_length");
  }
  return p;
}

}  // namespace cohort::secagg
