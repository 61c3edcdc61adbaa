#include "sim/ranked_training.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/ml/model.h"
#include "sim/client_data.h"

namespace cohort::sim {
namespace {

// How far each rank's pool trains ahead of the results taken.
size_t Window(int threads) { return static_cast<size_t>(4 * threads); }

std::string Serialize(const google::protobuf::Message& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

cohort::v1::SimClientResult ResultOf(int64_t id,
                                     absl::StatusOr<cohort::v1::Report> report,
                                     cohort::v1::Weights kept) {
  cohort::v1::SimClientResult r;
  r.set_id(id);
  r.set_code(static_cast<int32_t>(report.status().code()));
  r.set_message(std::string(report.status().message()));
  if (report.ok()) *r.mutable_report() = *std::move(report);
  *r.mutable_kept() = std::move(kept);
  return r;
}

absl::StatusOr<cohort::v1::Report> ReportOf(cohort::v1::SimClientResult r) {
  if (r.code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(r.code()), r.message());
  }
  return std::move(*r.mutable_report());
}

}  // namespace

RankedTraining::RankedTraining(int threads, const ClientWork* work,
                               Personalization* personalization,
                               RankChannel* channel)
    : work_(work),
      personalization_(personalization),
      channel_(channel),
      pool_(threads, Window(threads)) {}

absl::Status RankedTraining::Start(cohort::v1::SimTrainingBatch job,
                                   std::vector<int64_t> ids) {
  job.clear_clients();
  const int n = ranks();
  for (int r = 1; r < n; ++r) {
    cohort::v1::SimTrainingBatch batch = job;
    for (size_t k = static_cast<size_t>(r); k < ids.size(); k += n) {
      cohort::v1::SimClientJob* c = batch.add_clients();
      c->set_id(ids[k]);
      *c->mutable_kept() = personalization_->KeptOf(ids[k]);
    }
    COHORT_RETURN_IF_ERROR(channel_->Send(r, Serialize(batch)));
  }
  job.clear_model();
  job_ = std::make_shared<const cohort::v1::SimTrainingBatch>(std::move(job));
  ids_ = std::make_shared<const std::vector<int64_t>>(std::move(ids));
  const size_t local = (ids_->size() + n - 1) / n;
  pool_.Start(local, [work = work_, job = job_, ids = ids_, n](
                         size_t j, client::LocalTrainer& trainer) {
    return work->Train(*job, (*ids)[j * n], trainer);
  });
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::Report> RankedTraining::Take(size_t k) {
  const size_t n = static_cast<size_t>(ranks());
  if (k % n == 0) return pool_.Take(k / n);
  return TakeRemote(k);
}

absl::StatusOr<cohort::v1::Report> RankedTraining::TakeRemote(size_t k) {
  const int from = static_cast<int>(k % static_cast<size_t>(ranks()));
  COHORT_ASSIGN_OR_RETURN(std::string bytes, channel_->Receive(from));
  cohort::v1::SimClientResult result;
  const int64_t id = (*ids_)[k];
  if (!result.ParseFromString(bytes) || result.id() != id) {
    return absl::InternalError(absl::StrCat(
        "rank ", from, " sent a malformed result for client ", id));
  }
  personalization_->Keep(result.id(), std::move(*result.mutable_kept()));
  return ReportOf(std::move(result));
}

absl::Status RankedTraining::Stop() {
  cohort::v1::SimTrainingBatch stop;
  stop.set_stop(true);
  for (int r = 1; r < ranks(); ++r) {
    COHORT_RETURN_IF_ERROR(channel_->Send(r, Serialize(stop)));
  }
  return absl::OkStatus();
}

absl::Status ServeTrainingRank(RankChannel& channel, uint64_t seed,
                               const PoisonOptions& poison,
                               Personalization& personalization,
                               TrainingPool& pool) {
  auto batch = std::make_shared<cohort::v1::SimTrainingBatch>();
  // Read by pool threads only while a batch trains; replaced between.
  const ClientWork work(seed, poison, &personalization,
                        [&batch](const cohort::v1::ModelRef&)
                            -> absl::StatusOr<std::string> {
                          return batch->model();
                        });
  while (true) {
    COHORT_ASSIGN_OR_RETURN(std::string bytes, channel.Receive(0));
    if (!batch->ParseFromString(bytes)) {
      return absl::InternalError(absl::StrCat(
          "rank ", channel.rank(), ": rank 0 sent a malformed batch"));
    }
    if (batch->stop()) return absl::OkStatus();
    for (auto& c : *batch->mutable_clients()) {
      personalization.Keep(c.id(), std::move(*c.mutable_kept()));
    }
    const auto& clients = batch->clients();
    pool.Start(clients.size(), [&](size_t j, client::LocalTrainer& trainer) {
      return work.Train(*batch, clients[j].id(), trainer);
    });
    for (int j = 0; j < clients.size(); ++j) {
      absl::StatusOr<cohort::v1::Report> report = pool.Take(j);
      const int64_t id = clients[j].id();
      COHORT_RETURN_IF_ERROR(channel.Send(
          0, Serialize(ResultOf(id, std::move(report),
                                personalization.KeptOf(id)))));
    }
  }
}

absl::Status RunTrainingRank(const cohort::v1::SimConfig& config,
                             RankChannel& channel) {
  COHORT_ASSIGN_OR_RETURN(const SimOptions o, ResolveSimOptions(config));
  // As on rank 0: one intra-op thread, clients in parallel.
  ml::SetNumThreads(1);
  data::ImageDataset holdout;
  COHORT_ASSIGN_OR_RETURN(auto clients, ClientData::Load(o, &holdout));
  TrainingPool pool(o.threads, Window(o.threads));
  return ServeTrainingRank(channel, o.seed, o.poison, *clients->personalization,
                           pool);
}

}  // namespace cohort::sim
