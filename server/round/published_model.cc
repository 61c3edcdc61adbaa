#include "server/round/published_model.h"

#include "common/crypto/sha256.h"
#include "common/model/quantize.h"
#include "common/model/weights_util.h"

namespace cohort::server {

absl::StatusOr<std::shared_ptr<const PublishedModel>> Publish(
    int64_t version, int64_t round_id, const std::string& architecture,
    cohort::v1::Weights weights, std::map<std::string, double> metrics,
    bool int8) {
  auto m = std::make_shared<PublishedModel>();
  m->version = version;
  m->round_id = round_id;
  m->architecture = architecture;
  m->int8 = int8;
  if (int8) {
    auto artifact = model::QuantizeWeights(weights);
    if (!artifact.ok()) return artifact.status();
    m->bytes = model::SerializeWeights(*artifact);
  } else {
    m->bytes = model::SerializeWeights(weights);
  }
  m->sha256 = crypto::Sha256Hex(m->bytes);
  m->weights = std::move(weights);
  m->metrics = std::move(metrics);
  return m;
}

cohort::v1::ModelManifest ManifestContent(const PublishedModel& model,
                                          int64_t parent) {
  cohort::v1::ModelManifest m;
  m.set_version(model.version);
  m.set_parent(parent);
  m.set_round_id(model.round_id);
  m.set_architecture(model.architecture);
  m.set_architecture_sha256(crypto::Sha256Hex(model.architecture));
  for (const auto& [name, value] : model.metrics) (*m.mutable_metrics())[name] = value;
  auto add = [&m](const char* kind, const std::string& bytes,
                  const std::string& sha256) {
    cohort::v1::ArtifactDigest* a = m.add_artifacts();
    a->set_kind(kind);
    a->set_sha256(sha256);
    a->set_size_bytes(static_cast<int64_t>(bytes.size()));
  };
  if (model.int8) {
    add("int8", model.bytes, model.sha256);
    const std::string master = model::SerializeWeights(model.weights);
    add("fp32", master, crypto::Sha256Hex(master));
  } else {
    add("fp32", model.bytes, model.sha256);
  }
  return m;
}

void AddExportDigests(const std::map<std::string, std::string>& exports,
                      cohort::v1::ModelManifest* manifest) {
  for (const auto& [kind, bytes] : exports) {
    cohort::v1::ArtifactDigest* a = manifest->add_artifacts();
    a->set_kind(kind);
    a->set_sha256(crypto::Sha256Hex(bytes));
    a->set_size_bytes(static_cast<int64_t>(bytes.size()));
  }
}

}  // namespace cohort::server
