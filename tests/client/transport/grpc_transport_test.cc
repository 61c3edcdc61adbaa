#include "client/transport/grpc_transport.h"

#include <mutex>
#include <random>
#include <tuple>
#include <vector>

#include "common/crypto/sha256.h"
#include "common/model/delta.h"
#include "common/model/weights_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using cohort::v1::FetchModelRequest;
using cohort::v1::ModelChunk;

// Serves version 1 and 2 as the coordinator does, in 1 KiB chunks: the
// delta `delta` when version 2 is asked for from base_version 1, else the
// full artifact. Can end one stream UNAVAILABLE at an offset.
class FakeCoordinator final : public cohort::v1::Coordinator::Service {
 public:
  grpc::Status FetchModel(grpc::ServerContext* context,
                          const FetchModelRequest* request,
                          grpc::ServerWriter<ModelChunk>* writer) override {
    bool cut = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(*request);
      cut = cut_at >= 0;
    }
    const std::string& artifact = request->version() == 1 ? v1 : v2;
    const bool send_delta = always_delta || (request->version() == 2 &&
                                             request->base_version() == 1);
    const std::string& stream = send_delta ? delta : artifact;
    for (int64_t at = request->offset();
         at < static_cast<int64_t>(stream.size()); at += kChunk) {
      if (cut && at >= cut_at) {
        std::lock_guard<std::mutex> lock(mu);
        cut_at = -1;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cut");
      }
      ModelChunk chunk;
      chunk.set_offset(at);
      chunk.set_total_size(static_cast<int64_t>(stream.size()));
      chunk.set_sha256(crypto::Sha256Hex(artifact));
      chunk.set_artifact_size(static_cast<int64_t>(artifact.size()));
      if (send_delta) {
        chunk.set_encoding(ModelChunk::ZSTD_DELTA);
        chunk.set_base_version(1);
      }
      chunk.set_data(stream.substr(at, kChunk));
      if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
    }
    return grpc::Status::OK;
  }

  std::vector<FetchModelRequest> Requests() {
    std::lock_guard<std::mutex> lock(mu);
    return requests;
  }

  static constexpr int64_t kChunk = 1024;
  std::string v1, v2, delta;
  bool always_delta = false;
  std::mutex mu;
  int64_t cut_at = -1;
  std::vector<FetchModelRequest> requests;
};

// An fp32 artifact of 16K values, and the next round's (every value moved).
std::pair<std::string, std::string> Artifacts() {
  std::mt19937 rng(5);
  std::normal_distribution<float> weight(0.0f, 0.05f), step(0.0f, 0.002f);
  std::vector<float> a(16384), b(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = weight(rng);
    b[i] = a[i] + step(rng);
  }
  auto serialize = [](const std::vector<float>& values) {
    cohort::v1::Weights w;
    auto* t = w.add_tensors();
    t->set_name("fc.weight");
    t->add_shape(128);
    t->add_shape(128);
    model::SetFloatData(values, t);
    return model::SerializeWeights(w);
  };
  return {serialize(a), serialize(b)};
}

class GrpcTransportFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(service_.v1, service_.v2) = Artifacts();
    service_.delta = *model::EncodeDelta(service_.v1, service_.v2);
    ASSERT_LT(service_.delta.size(), service_.v2.size());
    ASSERT_GT(service_.delta.size(), size_t{3 * FakeCoordinator::kChunk});
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    transport_ = std::make_unique<GrpcTransport>(
        cohort::v1::Coordinator::NewStub(
            server_->InProcessChannel(grpc::ChannelArguments())),
        "in-process", cohort::v1::TlsConfig(), "localhost");
  }
  void TearDown() override { server_->Shutdown(); }

  cohort::v1::ModelRef Ref(int64_t version, const std::string& bytes) {
    cohort::v1::ModelRef ref;
    ref.set_version(version);
    ref.set_size_bytes(static_cast<int64_t>(bytes.size()));
    ref.set_sha256(crypto::Sha256Hex(bytes));
    return ref;
  }
  ModelBase HoldingV1() { return ModelBase{1, service_.v1}; }

  FakeCoordinator service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<GrpcTransport> transport_;
};

TEST_F(GrpcTransportFetchTest, HeldVersionIsRebuiltFromASmallerDelta) {
  auto got = transport_->FetchModelFrom(Ref(2, service_.v2), "t", HoldingV1());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, service_.v2);
  const auto requests = service_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].base_version(), 1);
  const DownloadStats stats = transport_->download_stats();
  EXPECT_EQ(stats.downloads, 1);
  EXPECT_EQ(stats.delta_downloads, 1);
  EXPECT_EQ(stats.bytes_received, static_cast<int64_t>(service_.delta.size()));
  EXPECT_EQ(stats.artifact_bytes, static_cast<int64_t>(service_.v2.size()));
  EXPECT_LT(stats.bytes_received, stats.artifact_bytes);
}

TEST_F(GrpcTransportFetchTest, NoBaseDownloadsTheFullArtifact) {
  auto got = transport_->FetchModel(Ref(2, service_.v2), "t");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, service_.v2);
  EXPECT_EQ(service_.Requests().at(0).base_version(), 0);
  EXPECT_EQ(transport_->download_stats().delta_downloads, 0);
  EXPECT_EQ(transport_->download_stats().bytes_received,
            static_cast<int64_t>(service_.v2.size()));
}

TEST_F(GrpcTransportFetchTest,
       DeltaThatDoesNotApplyFallsBackToOneFullDownload) {
  std::string other_base = service_.v1;
  other_base[other_base.size() / 2] ^= 1;
  std::string corrupt = service_.delta;
  corrupt[corrupt.size() / 2] ^= 0x10;
  struct Case {
    std::string delta;
    std::string base;
  };
  for (const Case& c :
       {Case{corrupt, service_.v1}, Case{service_.delta, other_base},
        Case{service_.delta.substr(0, 40), service_.v1}}) {
    service_.delta = c.delta;
    {
      std::lock_guard<std::mutex> lock(service_.mu);
      service_.requests.clear();
    }
    auto got = transport_->FetchModelFrom(Ref(2, service_.v2), "t",
                                          ModelBase{1, c.base});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, service_.v2);
    const auto requests = service_.Requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].base_version(), 1);
    EXPECT_EQ(requests[1].base_version(), 0);
    EXPECT_EQ(requests[1].offset(), 0);
  }
  EXPECT_EQ(transport_->download_stats().downloads, 3);
  EXPECT_EQ(transport_->download_stats().delta_downloads, 0);
}

TEST_F(GrpcTransportFetchTest, InterruptedDeltaResumesWhereItStopped) {
  service_.cut_at = 2 * FakeCoordinator::kChunk;
  auto got = transport_->FetchModelFrom(Ref(2, service_.v2), "t", HoldingV1());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, service_.v2);
  const auto requests = service_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].offset(), 2 * FakeCoordinator::kChunk);
  EXPECT_EQ(requests[1].base_version(), 1);
  EXPECT_EQ(transport_->download_stats().delta_downloads, 1);
}

TEST_F(GrpcTransportFetchTest, DeltaNobodyAskedForIsDataLoss) {
  service_.always_delta = true;
  auto got = transport_->FetchModel(Ref(2, service_.v2), "t");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cohort::client
