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

}  // namespace cohort::server
