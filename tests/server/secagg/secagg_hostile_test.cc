// Hostile and malformed messages: each drops only its sender (server side)
// or is a clear error (client side); the sum over the rest stays exact.

#include <map>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/secagg/secagg_test_harness.h"

namespace cohort::secagg {
namespace {

using testing::Harness;
using ::testing::HasSubstr;

constexpr int kN = 10;

SecAggConfig Config() {
  return SecAggConfig{.n = kN, .k = kN - 1, .t = 5, .bits = 32,
                      .vector_length = 6, .graph_seed = 11, .round_id = 9};
}

std::vector<int> NoDrops() { return std::vector<int>(kN, 4); }

std::vector<ClientToServer> One(ClientToServer m) {
  std::vector<ClientToServer> v;
  v.push_back(std::move(m));
  return v;
}

// Runs with one hook and checks that exactly `culprit` was dropped by the
// server with `code`, and that the round completed with the exact sum of
// the others (`culprit_counted`: its masked input was already accepted).
void ExpectOnlyCulpritDropped(Harness& h, int culprit, absl::StatusCode code,
                              bool culprit_counted) {
  h.Run();
  ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
  ASSERT_EQ(h.rejections.size(), 1u);
  EXPECT_EQ(h.rejections[0].first, culprit);
  EXPECT_EQ(h.rejections[0].second.code(), code) << h.rejections[0].second;
  for (int i = 0; i < kN; ++i) EXPECT_EQ(h.server().IsDropped(i), i == culprit);
  std::vector<int> excluded;
  if (!culprit_counted) excluded.push_back(culprit);
  EXPECT_EQ(*h.server().Result(), h.ExpectedSum(excluded));
  for (uint8_t kinds : h.server().RevealedShareKindsForTesting()) {
    EXPECT_NE(kinds, kRevealedSeedBit | kRevealedKeyBit);
  }
}

// Wraps h's client hook to keep each client's reported forgeries
// (MaskedInput::rejected_peers) in `reports`, which must outlive the run.
void RecordForgeryReports(Harness& h, std::map<int, std::vector<int32_t>>* reports) {
  h.client_hook = [reports, hook = h.client_hook](int phase, int client,
                                                   ClientToServer m) {
    auto out = hook(phase, client, std::move(m));
    for (const ClientToServer& sent : out) {
      if (const auto* masked = std::get_if<MaskedInput>(&sent);
          masked != nullptr && !masked->rejected_peers.empty()) {
        (*reports)[client] = masked->rejected_peers;
      }
    }
    return out;
  };
}

// A forged share (right size, fails AES-GCM authentication at its
// recipient) is reported by the recipient, which still masks with its
// sender: nobody is dropped, everyone is in the exact sum, and the server
// learns only self-mask seeds. `forger`'s share was the one reported (a
// reference: a server hook may learn it only during the run).
void ExpectForgeryHarmless(Harness& h, const int& forger) {
  std::map<int, std::vector<int32_t>> reports;
  RecordForgeryReports(h, &reports);
  h.Run();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports.begin()->second, std::vector<int32_t>{forger});
  EXPECT_TRUE(h.client_errors.empty());
  ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
  EXPECT_TRUE(h.rejections.empty());
  for (int i = 0; i < kN; ++i) EXPECT_FALSE(h.server().IsDropped(i)) << i;
  EXPECT_EQ(*h.server().Result(), h.ExpectedSum());
  const auto kinds = h.server().RevealedShareKindsForTesting();
  for (int i = 0; i < kN; ++i) EXPECT_EQ(kinds[i], kRevealedSeedBit) << i;
}

TEST(SecAggHostileTest, ForgedShareFromClientDropsNobodyAndSumsEveryone) {
  Harness h(Config(), NoDrops(), 1);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 2 && client == 5) {
      auto& c = std::get<ShareKeys>(m).shares[2].ciphertext;
      std::fill(c.begin(), c.end(), 0x5a);  // right size, forged
    }
    return One(std::move(m));
  };
  ExpectForgeryHarmless(h, 5);
}

// On a sparse graph, a forger that then leaves before its masked input
// (last phase 2) is unmasked as a dropped client, with its mask key, from
// the holders other than its accuser, and the accuser's pair mask with it
// is removed; one that leaves in Unmasking (last phase 3) stays in the sum.
TEST(SecAggHostileTest, AForgerThatLeavesLaterIsUnmaskedExactly) {
  constexpr int kForger = 5;
  for (const int forger_last : {2, 3}) {
    SecAggConfig config = Config();
    config.n = 12;
    config.k = 6;
    config.t = 4;
    std::vector<int> last(config.n, 4);
    last[kForger] = forger_last;
    Harness h(config, last, 21 + forger_last);
    h.client_hook = [](int phase, int client, ClientToServer m) {
      if (phase == 2 && client == kForger) {
        auto& c = std::get<ShareKeys>(m).shares[0].ciphertext;
        std::fill(c.begin(), c.end(), 0x5a);
      }
      return One(std::move(m));
    };
    std::map<int, std::vector<int32_t>> reports;
    RecordForgeryReports(h, &reports);
    h.Run();
    ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
    ASSERT_EQ(reports.size(), 1u) << forger_last;
    EXPECT_EQ(reports.begin()->second, std::vector<int32_t>{kForger});
    EXPECT_TRUE(h.client_errors.empty());
    EXPECT_EQ(*h.server().Result(), h.ExpectedSum()) << forger_last;
    EXPECT_EQ(h.server().RevealedShareKindsForTesting()[kForger],
              forger_last == 2 ? kRevealedKeyBit : kRevealedSeedBit);
  }
}

TEST(SecAggHostileTest, TamperedShareInTransitDropsNobodyAndSumsEveryone) {
  Harness h(Config(), NoDrops(), 16);
  int sender = -1;
  h.server_hook = [&sender](int phase, int client, ServerToClient& m) {
    if (phase == 2 && client == 3) {
      auto& share = std::get<SharesDelivery>(m).shares[0];
      share.ciphertext[5] ^= 0x40;  // AES-GCM authentication will fail
      sender = share.peer;
    }
  };
  ExpectForgeryHarmless(h, sender);
  ASSERT_GE(sender, 0);
}

// The accuser holds no share of the accused: a share it reveals for it in
// Unmasking anyway is refused, and only the accuser is dropped (its input
// stays in the sum, which it joined in MaskedInputCollection).
TEST(SecAggHostileTest, AShareOfAnAccusedNeighbourIsRefusedInUnmasking) {
  Harness h(Config(), NoDrops(), 18);
  int accused = -1;
  h.server_hook = [&accused](int phase, int client, ServerToClient& m) {
    if (phase == 2 && client == 4) {
      auto& share = std::get<SharesDelivery>(m).shares[0];
      share.ciphertext[5] ^= 0x40;  // client 4 will report its sender
      accused = share.peer;
    }
  };
  h.client_hook = [&accused](int phase, int client, ClientToServer m) {
    if (phase == 4 && client == 4) {
      auto& response = std::get<UnmaskingResponse>(m);
      RevealedShare claimed = response.shares[0];
      claimed.owner = accused;
      response.shares.push_back(claimed);
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 4, absl::StatusCode::kInvalidArgument, true);
  ASSERT_GE(accused, 0);
}

TEST(SecAggHostileTest, FalseForgeryReportIsValidated) {
  Harness h(Config(), NoDrops(), 17);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 3 && client == 2) {
      std::get<MaskedInput>(m).rejected_peers = {2};  // not a delivered peer
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 2, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, TruncatedShareCiphertextDropsSender) {
  Harness h(Config(), NoDrops(), 2);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 2 && client == 4) {
      std::get<ShareKeys>(m).shares[1].ciphertext.pop_back();
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 4, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, ShareToNonNeighbourDropsSender) {
  Harness h(Config(), NoDrops(), 3);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 2 && client == 1) {
      std::get<ShareKeys>(m).shares[0].peer = 1;  // to itself
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 1, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, ReplayedShareKeysDropsSender) {
  Harness h(Config(), NoDrops(), 4);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    auto out = One(m);
    if (phase == 2 && client == 2) out.push_back(std::move(m));
    return out;
  };
  ExpectOnlyCulpritDropped(h, 2, absl::StatusCode::kInvalidArgument, false);
  EXPECT_THAT(std::string(h.rejections[0].second.message()),
              HasSubstr("replayed"));
}

// The first copy was summed on arrival: the replayer is dropped but stays
// in the sum, unmasked with its self-mask seed (never its mask key).
TEST(SecAggHostileTest, ReplayedMaskedInputDropsSenderAndRevealsOnlyItsSeed) {
  Harness h(Config(), NoDrops(), 5);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    auto out = One(m);
    if (phase == 3 && client == 5) out.push_back(std::move(m));
    return out;
  };
  ExpectOnlyCulpritDropped(h, 5, absl::StatusCode::kInvalidArgument, true);
  EXPECT_EQ(h.server().RevealedShareKindsForTesting()[5], kRevealedSeedBit);
}

TEST(SecAggHostileTest, OutOfPhaseMessageDropsSender) {
  Harness h(Config(), NoDrops(), 6);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 2 && client == 6) return One(MaskedInput{{1, 2, 3, 4, 5, 6}, {}});
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 6, absl::StatusCode::kInvalidArgument, false);
  EXPECT_THAT(std::string(h.rejections[0].second.message()),
              HasSubstr("out-of-phase"));
}

TEST(SecAggHostileTest, EarlyUnmaskingResponseDropsSender) {
  Harness h(Config(), NoDrops(), 7);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 1 && client == 0) return One(UnmaskingResponse{});
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 0, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, ShortPublicKeyDropsSender) {
  Harness h(Config(), NoDrops(), 8);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 1 && client == 9) {
      std::get<AdvertiseKeys>(m).mask_public_key.pop_back();
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 9, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, WrongLengthMaskedInputDropsSender) {
  Harness h(Config(), NoDrops(), 9);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 3 && client == 7) std::get<MaskedInput>(m).masked.push_back(0);
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 7, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, OutOfRangeMaskedValueDropsSender) {
  Harness h(Config(), NoDrops(), 10);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 3 && client == 8) {
      std::get<MaskedInput>(m).masked[2] = uint64_t{1} << 40;
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 8, absl::StatusCode::kInvalidArgument, false);
}

TEST(SecAggHostileTest, WrongShareKindInUnmaskingDropsResponderOnly) {
  Harness h(Config(), NoDrops(), 11);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 4 && client == 0) {
      // Ask the server to take a survivor's mask-key share as well.
      std::get<UnmaskingResponse>(m).shares[0].kind = ShareKind::kMaskKey;
    }
    return One(std::move(m));
  };
  // Client 0's masked input is already in the sum; only its response goes.
  ExpectOnlyCulpritDropped(h, 0, absl::StatusCode::kInvalidArgument, true);
  for (uint8_t kinds : h.server().RevealedShareKindsForTesting()) {
    EXPECT_EQ(kinds, kRevealedSeedBit);
  }
}

TEST(SecAggHostileTest, MalformedFieldElementInUnmaskingDropsResponder) {
  Harness h(Config(), NoDrops(), 12);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 4 && client == 2) {
      auto& share = std::get<UnmaskingResponse>(m).shares[1].share;
      std::fill(share.begin(), share.end(), 0xff);  // >= p
    }
    return One(std::move(m));
  };
  ExpectOnlyCulpritDropped(h, 2, absl::StatusCode::kInvalidArgument, true);
}

TEST(SecAggHostileTest, LyingSeedShareAbortsInsteadOfWrongSum) {
  Harness h(Config(), NoDrops(), 15);
  h.client_hook = [](int phase, int client, ClientToServer m) {
    if (phase == 4 && client == 6) {
      // A well-formed but wrong share value (still < p).
      std::get<UnmaskingResponse>(m).shares[0].share[32] ^= 1;
    }
    return One(std::move(m));
  };
  h.Run();
  EXPECT_TRUE(h.server().IsAborted()) << h.server().StateName();
  EXPECT_THAT(std::string(h.server().AbortStatus().message()),
              HasSubstr("inconsistent"));
  EXPECT_FALSE(h.server().Result().ok());
}

TEST(SecAggHostileTest, UnknownIdAndLateMessagesAreRejectedHarmlessly) {
  Harness h(Config(), NoDrops(), 13);
  h.Run();
  ASSERT_TRUE(h.server().IsCompleted());
  const auto sum = *h.server().Result();
  EXPECT_EQ(h.server().ReceiveMessage(kN, MaskedInput{}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.server().ReceiveMessage(-1, MaskedInput{}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.server().ReceiveMessage(3, MaskedInput{}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*h.server().Result(), sum);
}

// ---- client side: bad server messages are clear errors ----

class ClientSideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SecAggClient::Create(Config(), 0, std::vector<uint64_t>(6, 1),
                                  &random_, &out_);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
    ASSERT_TRUE(client_->Start().ok());
  }
  cohort::testing::FakeRandom random_{42};
  testing::ClientOutbox out_;
  std::unique_ptr<SecAggClient> client_;
};

TEST_F(ClientSideTest, OutOfPhaseServerMessageIsError) {
  EXPECT_EQ(client_->ReceiveMessage(UnmaskingRequest{}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client_->IsAborted());
  EXPECT_EQ(client_->ReceiveMessage(KeysBroadcast{}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientSideTest, MalformedKeysBroadcastIsError) {
  KeysBroadcast b;
  b.neighbours.push_back(PeerKeys{1, std::vector<uint8_t>(31, 1),
                                  std::vector<uint8_t>(32, 1)});
  EXPECT_EQ(client_->ReceiveMessage(b).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientSideTest, TooFewNeighboursAborts) {
  KeysBroadcast b;  // nobody else advertised
  EXPECT_EQ(client_->ReceiveMessage(b).code(), absl::StatusCode::kAborted);
}

TEST_F(ClientSideTest, AbortRoundEndsClient) {
  EXPECT_TRUE(client_->ReceiveMessage(AbortRound{"quorum lost"}).ok());
  EXPECT_TRUE(client_->IsAborted());
}

// Two shares from one neighbour, one of them forged, in either order: the
// client refuses the delivery (it would otherwise mask with that neighbour
// twice, or both hold and disown its share); the others sum exactly.
TEST(SecAggHostileTest, ClientRefusesTwoSharesFromOneNeighbour) {
  for (const bool forged_first : {true, false}) {
    Harness h(Config(), NoDrops(), 19);
    h.server_hook = [forged_first](int phase, int client, ServerToClient& m) {
      if (phase == 2 && client == 3) {
        auto& shares = std::get<SharesDelivery>(m).shares;
        EncryptedShare forged = shares[0];
        forged.ciphertext[5] ^= 0x40;
        shares.insert(forged_first ? shares.begin() : shares.begin() + 1,
                      forged);
      }
    };
    h.Run();
    ASSERT_EQ(h.client_errors.size(), 1u) << forged_first;
    EXPECT_EQ(h.client_errors[0].first, 3);
    EXPECT_EQ(h.client_errors[0].second.code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(h.client_errors[0].second.message()),
                HasSubstr("two shares"));
    ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
    EXPECT_EQ(*h.server().Result(), h.ExpectedSum());
  }
}

TEST(SecAggHostileTest, ClientRefusesSurvivorListedAsDropped) {
  Harness h(Config(), NoDrops(), 14);
  h.server_hook = [](int phase, int client, ServerToClient& m) {
    if (phase == 3 && client == 4) {
      auto& req = std::get<UnmaskingRequest>(m);
      req.dropped.push_back(req.survivors[0] == 4 ? req.survivors[1]
                                                  : req.survivors[0]);
    }
  };
  h.Run();
  ASSERT_EQ(h.client_errors.size(), 1u);
  EXPECT_EQ(h.client_errors[0].first, 4);
  EXPECT_EQ(h.client_errors[0].second.code(),
            absl::StatusCode::kInvalidArgument);
  // The refusing client's input is summed; the others unmask it.
  ASSERT_TRUE(h.server().IsCompleted()) << h.server().AbortStatus();
  EXPECT_EQ(*h.server().Result(), h.ExpectedSum());
}

TEST(SecAggClientTest, InputOutOfRangeRejected) {
  cohort::testing::FakeRandom random(1);
  testing::ClientOutbox out;
  SecAggConfig c = Config();
  c.bits = 8;
  EXPECT_EQ(SecAggClient::Create(c, 0, std::vector<uint64_t>(6, 256), &random,
                                 &out)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::secagg
