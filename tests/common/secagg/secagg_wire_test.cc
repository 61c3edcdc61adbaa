#include "common/secagg/secagg_wire.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::secagg {
namespace {

SecAggConfig Config() {
  SecAggConfig c;
  c.n = 5;
  c.k = 4;
  c.t = 3;
  c.bits = 23;
  c.vector_length = 7;
  c.graph_seed = 11;
  c.round_id = 3;
  return c;
}

TEST(SecAggWireTest, ClientMessagesRoundTrip) {
  const SecAggConfig c = Config();
  AdvertiseKeys keys{std::vector<uint8_t>(32, 1), std::vector<uint8_t>(32, 2)};
  auto back = FromProto(ToProto(ClientToServer(keys), c), c);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<AdvertiseKeys>(*back).mask_public_key, keys.mask_public_key);

  MaskedInput input;
  input.masked = {0, 1, (1u << 23) - 1, 5, 77, 4096, 123456};
  input.rejected_peers = {2};
  back = FromProto(ToProto(ClientToServer(input), c), c);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(std::get<MaskedInput>(*back).masked, input.masked);
  EXPECT_THAT(std::get<MaskedInput>(*back).rejected_peers, testing::ElementsAre(2));

  UnmaskingResponse response;
  response.shares.push_back({4, ShareKind::kMaskKey, std::vector<uint8_t>(33, 9)});
  back = FromProto(ToProto(ClientToServer(response), c), c);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<UnmaskingResponse>(*back).shares[0].kind, ShareKind::kMaskKey);
}

TEST(SecAggWireTest, MalformedClientMessagesAreInvalidArgument) {
  const SecAggConfig c = Config();
  cohort::v1::SecAggClientMessage m;
  EXPECT_EQ(FromProto(m, c).status().code(), absl::StatusCode::kInvalidArgument);
  m.mutable_ready()->set_round_id(3);
  EXPECT_EQ(FromProto(m, c).status().code(), absl::StatusCode::kInvalidArgument);
  // A packed input one byte short, or with one byte extra.
  m.mutable_masked_input()->set_packed(std::string(20, '\0'));
  EXPECT_EQ(FromProto(m, c).status().code(), absl::StatusCode::kInvalidArgument);
  m.mutable_masked_input()->set_packed(std::string(22, '\0'));
  EXPECT_EQ(FromProto(m, c).status().code(), absl::StatusCode::kInvalidArgument);
  m.mutable_masked_input()->set_packed(std::string(21, '\0'));
  EXPECT_TRUE(FromProto(m, c).ok());
  m.mutable_unmasking_response()->add_shares()->set_kind(7);
  EXPECT_EQ(FromProto(m, c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecAggWireTest, ServerMessagesRoundTrip) {
  UnmaskingRequest request{{0, 2, 3}, {1}};
  auto back = FromProto(ToProto(ServerToClient(request)));
  ASSERT_TRUE(back.ok());
  EXPECT_THAT(std::get<UnmaskingRequest>(*back).dropped, testing::ElementsAre(1));
  back = FromProto(ToProto(ServerToClient(AbortRound{"why"})));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<AbortRound>(*back).reason, "why");
  EXPECT_FALSE(FromProto(cohort::v1::SecAggServerMessage()).ok());
}

// Found by fuzz/common/secagg/secagg_wire_fuzzer: a keys broadcast with no
// neighbours (and any other empty server message) must still be a message
// of its kind on the wire, not an empty one the device refuses.
TEST(SecAggWireTest, EmptyServerMessagesKeepTheirKindOnTheWire) {
  for (const ServerToClient& m :
       {ServerToClient(KeysBroadcast{}), ServerToClient(SharesDelivery{}),
        ServerToClient(UnmaskingRequest{}), ServerToClient(AbortRound{})}) {
    auto back = FromProto(ToProto(m));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->index(), m.index());
  }
}

TEST(SecAggWireTest, BeginRoundTripsAndRejectsInconsistentFields) {
  auto encoding = PlanUpdateEncoding(16, 2.0, false, 5, 100, 5, 5);
  ASSERT_TRUE(encoding.ok());
  BeginParams p;
  p.config = Config();
  p.config.bits = encoding->params.bits;
  p.config.vector_length = InputLength(*encoding);
  p.client_id = 4;
  p.encoding = *encoding;
  auto back = ParseBegin(MakeBegin(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->client_id, 4);
  EXPECT_EQ(back->config.t, 3);
  EXPECT_EQ(back->encoding.params.scale, encoding->params.scale);

  auto bad = [&](auto mutate) {
    cohort::v1::SecAggBegin b = MakeBegin(p);
    mutate(b);
    return ParseBegin(b).status().code();
  };
  const auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(bad([](auto& b) { b.set_client_id(5); }), kBad);
  EXPECT_EQ(bad([](auto& b) { b.set_num_clients(1); }), kBad);
  EXPECT_EQ(bad([](auto& b) { b.set_threshold(5); }), kBad);
  EXPECT_EQ(bad([](auto& b) { b.set_degree(5); }), kBad);
  EXPECT_EQ(bad([&](auto& b) { b.set_vector_length(InputLength(*encoding) + 1); }),
            kBad);
  EXPECT_EQ(bad([](auto& b) { b.mutable_encoding()->set_scale(-1); }), kBad);
  EXPECT_EQ(bad([](auto& b) { b.set_modulus_bits(70); }), kBad);
}

}  // namespace
}  // namespace cohort::secagg
