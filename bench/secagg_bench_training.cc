// The client's local training time on the small CNN, the yardstick for the
// SecAgg client cost (see secagg_bench.cc).

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/secagg_bench.h"
#include "client/train/client_task.h"
#include "client/train/local_trainer.h"
#include "common/base/logging.h"
#include "common/data/dataset.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"

namespace cohort::secagg::bench {

LocalTraining MeasureLocalTraining(const std::string& idx_dir) {
  // The demo scenario (configs/sim/demo.textproto): the small CNN, about 60
  // examples per client, plan { epochs: 2 batch_size: 10 learning_rate: 0.05 }.
  // One thread, as one device trains (and as the SecAgg client runs).
  constexpr int kExamples = 60;
  ml::SetNumThreads(1);
  auto all = data::LoadFashionMnist(idx_dir, /*test_split=*/false, kExamples);
  CHECK(all.ok()) << all.status();
  std::vector<int64_t> idx(kExamples);
  std::iota(idx.begin(), idx.end(), 0);
  const data::ImageDataset local = data::Subset(*all, idx);
  cohort::v1::TrainingPlan plan;
  plan.set_epochs(2);
  plan.set_batch_size(10);
  plan.set_learning_rate(0.05f);
  auto model = ml::Model::Create("small_cnn", 1);
  CHECK(model.ok()) << model.status();
  const cohort::v1::Weights start = (*model)->GetWeights();
  auto trainer = client::LocalTrainer::CreateWithoutData();
  std::vector<double> ms;
  for (int rep = 0; rep < 6; ++rep) {  // the first is a warm-up
    const auto t0 = Clock::now();
    auto update = trainer->TrainOn(local, "small_cnn", start, plan,
                                   client::TrainingSeed(rep, 1));
    CHECK(update.ok()) << update.status();
    if (rep > 0) ms.push_back(MsSince(t0));
  }
  std::sort(ms.begin(), ms.end());
  LocalTraining out;
  out.median_ms = ms[ms.size() / 2];
  out.parameters = 0;
  for (const auto& t : start.tensors()) {
    int64_t size = 1;
    for (int64_t d : t.shape()) size *= d;
    out.parameters += size;
  }
  std::printf("small CNN local training, %d examples x 2 epochs, batch 10, 1 thread: "
              "median %.1f ms over 5 (%lld parameters)\n",
              kExamples, out.median_ms, static_cast<long long>(out.parameters));
  return out;
}

}  // namespace cohort::secagg::bench
