#include "sim/ranked_training.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/ml/model.h"
#include "sim/client_data.h"

namespace cohort::sim {
namespace {

// How far each rank's pool trains ahead of the results taken.
size_t Window(int threads) { return static_cast<size_t>(4 * threads); }

// RESOURCE_EXHAUSTED for a message protobuf cannot write (over 2 GiB).
absl::StatusOr<std::string> Serialize(const google::protobuf::Message& m) {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a ", m.GetTypeName(), " of ", m.ByteSizeLong(),
        " bytes is too large to send to another rank"));
  }
  return bytes;
}

// Serializes `m` and sends it to rank `to`.
absl::Status SendTo(RankChannel& channel, int to,
                    const google::protobuf::Message& m) {
  COHORT_ASSIGN_OR_RETURN(std::string bytes, Serialize(m));
  return channel.Send(to, bytes);
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

// The result's report or error; nullopt if it is neither (malformed).
std::optional<absl::StatusOr<cohort::v1::Report>> ReportOf(
    cohort::v1::SimClientResult r) {
  if (r.code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(r.code()), r.message());
  }
  if (!r.has_report()) return std::nullopt;
  return std::move(*r.mutable_report());
}

// A batch rank 0 could have sent: stop, or a release with its bytes.
bool WellFormed(const cohort::v1::SimTrainingBatch& b) {
  return b.stop() || (b.has_ref() && !b.model().empty());
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
    COHORT_RETURN_IF_ERROR(SendTo(*channel_, r, batch));
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
  cohort::v1::Weights kept = std::move(*result.mutable_kept());
  auto report = ReportOf(std::move(result));
  if (!report.has_value()) {
    return absl::InternalError(absl::StrCat(
        "rank ", from, " sent a result without a report for client ", id));
  }
  personalization_->Keep(id, std::move(kept));
  return *std::move(report);
}

absl::Status RankedTraining::Stop() {
  cohort::v1::SimTrainingBatch stop;
  stop.set_stop(true);
  for (int r = 1; r < ranks(); ++r) {
    COHORT_RETURN_IF_ERROR(SendTo(*channel_, r, stop));
  }
  return absl::OkStatus();
}

absl::Status ServeTrainingRank(RankChannel& channel, uint64_t seed,
                               const PoisonOptions& poison,
                               Personalization& personalization,
                               TrainingPool& pool) {
  cohort::v1::SimTrainingBatch batch;
  // Pool threads read `batch` only while its clients train; every job is
  // taken before the next batch is parsed into it, or before returning.
  const ClientWork work(seed, poison, &personalization,
                        [&batch](const cohort::v1::ModelRef&)
                            -> absl::StatusOr<std::string> {
                          return batch.model();
                        });
  while (true) {
    COHORT_ASSIGN_OR_RETURN(std::string bytes, channel.Receive(0));
    if (!batch.ParseFromString(bytes) || !WellFormed(batch)) {
      return absl::InternalError(absl::StrCat(
          "rank ", channel.rank(), ": rank 0 sent a malformed batch"));
    }
    if (batch.stop()) return absl::OkStatus();
    for (auto& c : *batch.mutable_clients()) {
      personalization.Keep(c.id(), std::move(*c.mutable_kept()));
    }
    const auto& clients = batch.clients();
    pool.Start(clients.size(), [&](size_t j, client::LocalTrainer& trainer) {
      return work.Train(batch, clients[j].id(), trainer);
    });
    absl::Status sent;
    for (int j = 0; j < clients.size(); ++j) {
      absl::StatusOr<cohort::v1::Report> report = pool.Take(j);
      const int64_t id = clients[j].id();
      // After a failed send the rest are still taken: no job may outlive
      // this frame's `batch` and `work`.
      if (sent.ok()) {
        sent = SendTo(channel, 0,
                      ResultOf(id, std::move(report), personalization.KeptOf(id)));
      }
    }
    COHORT_RETURN_IF_ERROR(sent);
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
