#include "experiments/mnist/mnist_training.h"

#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "lrmem/client.h"
#include "lrmem/torch_optimizer.h"

namespace lrmem::mnist {
namespace {

// Two convolutions with ReLU and max pooling, then one linear layer onto the
// two classes' logits: 28x28 -> 8x24x24 -> 8x12x12 -> 16x8x8 -> 16x4x4 -> 2.
// About 4k weights, small enough for thousands of single-sample updates per
// second on one core.
struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl()
      : conv1(register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 5)))),
        conv2(register_module(
            "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 5)))),
        fc(register_module("fc", torch::nn::Linear(16 * 4 * 4, 2))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);
    return fc->forward(x.flatten(1));
  }

  torch::nn::Conv2d conv1;
  torch::nn::Conv2d conv2;
  torch::nn::Linear fc;
};
TORCH_MODULE(SmallCnn);

// A task's images as tensors, built once and shared by every update.
struct TaskTensors {
  torch::Tensor train_images;  // [n, 1, 28, 28]
  torch::Tensor train_labels;  // [n]
  torch::Tensor test_images;
  torch::Tensor test_labels;
};

torch::Tensor ImagesTensor(const LabeledImages& images) {
  return torch::from_blob(const_cast<float*>(images.pixels.data()),
                          {images.size(), 1, kImageSide, kImageSide},
                          torch::kFloat32)
      .clone();
}

torch::Tensor LabelsTensor(const LabeledImages& images) {
  return torch::from_blob(const_cast<int64_t*>(images.labels.data()),
                          {images.size()}, torch::kInt64)
      .clone();
}

TaskTensors ToTensors(const BinaryTask& task) {
  return {ImagesTensor(task.train), LabelsTensor(task.train),
          ImagesTensor(task.test), LabelsTensor(task.test)};
}

double TestAccuracy(SmallCnn& model, const TaskTensors& data) {
  torch::NoGradGuard no_grad;
  const torch::Tensor predicted = model->forward(data.test_images).argmax(1);
  return predicted.eq(data.test_labels)
      .to(torch::kFloat64)
      .mean()
      .item<double>();
}

// The order in which one seed visits a task's training pool: fresh
// permutations, concatenated until there are enough samples.
std::vector<int64_t> SampleOrder(int pool_size, int samples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> permutation(pool_size);
  std::iota(permutation.begin(), permutation.end(), 0);
  std::vector<int64_t> order;
  order.reserve(samples);
  while (static_cast<int>(order.size()) < samples) {
    std::shuffle(permutation.begin(), permutation.end(), rng);
    const int take =
        std::min<int>(pool_size, samples - static_cast<int>(order.size()));
    order.insert(order.end(), permutation.begin(), permutation.begin() + take);
  }
  return order;
}

// Runs the online training loop of one task with a ready optimizer.
// `step` applies one update after the gradients are in place.
absl::Status TrainTask(SmallCnn& model, const TaskTensors& data,
                       const std::vector<int64_t>& order,
                       const TrainingOptions& options,
                       const std::function<absl::Status()>& step,
                       const ProgressCallback& progress, Curve& curve) {
  curve.points.push_back({0, TestAccuracy(model, data)});
  if (progress) progress(curve);
  for (int i = 0; i < static_cast<int>(order.size()); ++i) {
    const int64_t index = order[i];
    model->zero_grad();
    const torch::Tensor logits =
        model->forward(data.train_images.narrow(0, index, 1));
    torch::nn::functional::cross_entropy(logits,
                                         data.train_labels.narrow(0, index, 1))
        .backward();
    if (absl::Status s = step(); !s.ok()) return s;

    const int samples = i + 1;
    if (samples % options.eval_every == 0 ||
        samples == static_cast<int>(order.size())) {
      curve.points.push_back({samples, TestAccuracy(model, data)});
      if (progress) progress(curve);
    }
  }
  return absl::OkStatus();
}

// Initial weights come from libtorch's global generator, which runs on
// other threads (--jobs) share: the lock keeps them from seeding it or
// drawing from it between this run's seeding and its last draw, so that a
// seed gives the same network whatever trains beside it.
SmallCnn InitialModel(uint64_t seed) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  torch::manual_seed(seed);
  return SmallCnn();
}

// Builds libtorch's own optimizer for the plain variants.
std::unique_ptr<torch::optim::Optimizer> PlainOptimizer(Variant variant,
                                                        SmallCnn& model,
                                                        float learning_rate) {
  if (variant == Variant::kAdam) {
    return std::make_unique<torch::optim::Adam>(
        model->parameters(), torch::optim::AdamOptions(learning_rate));
  }
  return std::make_unique<torch::optim::SGD>(
      model->parameters(), torch::optim::SGDOptions(learning_rate));
}

// Where one run of one variant keeps its memories, and who it is there. On
// a shared server the run name keeps jobs apart, unless they train one
// shared memory on purpose; embedded, every (variant, seed) run has a data
// directory of its own, because two embedded servers cannot share one and
// runs train in parallel.
struct MemoryPlace {
  std::string server_address;
  std::string embedded_data_dir;
  std::string prefix;         // of per-run memory and snapshot names
  std::string shared_memory;  // non-empty: the one memory of every task
  std::string learner;        // prefix of the learner ids

  std::string Memory(const BinaryTask& task) const {
    if (!shared_memory.empty()) return shared_memory;
    return absl::StrCat(prefix, "/", task.Name());
  }
  std::string Snapshot(const BinaryTask& task) const {
    return absl::StrCat(prefix, "/after-", task.Name());
  }
  // Each task trains a fresh network: a new learner, whose first step is
  // not compared with the previous network's last one.
  std::string LearnerId(const BinaryTask& task) const {
    return absl::StrCat(learner, "/", task.Name());
  }
};

MemoryPlace PlaceFor(Variant variant, int seed,
                     const TrainingOptions& options) {
  const std::string run = absl::StrCat(VariantName(variant), "-seed", seed);
  MemoryPlace place;
  place.server_address = options.server_address;
  if (options.server_address.empty()) {
    place.embedded_data_dir = absl::StrCat(options.embedded_data_dir, "/", run);
  }
  place.prefix = absl::StrCat(options.run_name, "/", run);
  place.shared_memory = options.shared_memory;
  place.learner = absl::StrCat(options.learner_id, "/", run);
  return place;
}

absl::StatusOr<std::unique_ptr<MemoryOptimizer>> MakeMemoryOptimizer(
    Variant variant, SmallCnn& model, const MemoryPlace& place,
    const BinaryTask& task, const TrainingOptions& options) {
  MemoryOptimizerOptions o;
  o.server_address = place.server_address;
  o.embedded_data_dir = place.embedded_data_dir;
  o.memory = place.Memory(task);
  o.learner_id = place.LearnerId(task);
  o.config = options.memory_config;
  o.base =
      variant == Variant::kAdamMemory || variant == Variant::kAdamMemoryReload
          ? BaseOptimizer::kAdam
          : BaseOptimizer::kSgd;
  o.grouping =
      options.group_per_layer ? Grouping::kPerLayer : Grouping::kPerParameter;
  return MemoryOptimizer::Create(model->named_parameters().pairs(),
                                 std::move(o));
}

// Reads back what the memory learned, for the report.
absl::StatusOr<std::vector<LearnedRates>> ReadLearnedRates(
    Client& client, const std::string& memory) {
  absl::StatusOr<v1::MemoryInfo> info =
      client.GetMemory(memory, /*include_values=*/true);
  if (!info.ok()) return info.status();
  std::vector<LearnedRates> rates;
  for (const v1::GroupInfo& group : info->groups()) {
    rates.push_back({group.name(),
                     {info->centers().begin(), info->centers().end()},
                     {group.values().begin(), group.values().end()}});
  }
  return rates;
}

// Hands the memory a task leaves behind to the next task: a snapshot of it,
// restored as the next task's memory with the memory's own optimizer reset,
// so that only the learned rates carry over. Done while this task's
// optimizer (and, embedded, its server) is still alive.
absl::Status HandOver(Client& client, const MemoryPlace& place,
                      const BinaryTask& task, const BinaryTask& next) {
  absl::StatusOr<v1::SnapshotInfo> snapshot =
      client.CreateSnapshot(place.Memory(task), place.Snapshot(task));
  if (!snapshot.ok()) return snapshot.status();
  RestoreOptions restore;
  restore.overwrite = true;
  restore.reset_optimizer = true;
  return client
      .RestoreSnapshot(place.Snapshot(task), place.Memory(next), restore)
      .status();
}

// Trains one task with a memory-wrapped optimizer, then records the rates
// it learned and, for the reload variants, hands the memory over to `next`
// (null after the last task).
absl::Status TrainTaskWithMemory(Variant variant, SmallCnn& model,
                                 const TaskTensors& data,
                                 const std::vector<int64_t>& order,
                                 const MemoryPlace& place,
                                 const BinaryTask& task, const BinaryTask* next,
                                 const TrainingOptions& options,
                                 const ProgressCallback& progress,
                                 Curve& curve) {
  absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
      MakeMemoryOptimizer(variant, model, place, task, options);
  if (!optimizer.ok()) return optimizer.status();
  MemoryOptimizer& memory = **optimizer;
  auto step = [&memory]() -> absl::Status {
    try {
      memory.step();
    } catch (const std::runtime_error& e) {
      return absl::UnavailableError(e.what());
    }
    return absl::OkStatus();
  };
  absl::Status s =
      TrainTask(model, data, order, options, step, progress, curve);
  if (!s.ok()) return s;
  curve.skipped_steps = memory.skipped_steps();

  absl::StatusOr<std::vector<LearnedRates>> rates =
      ReadLearnedRates(memory.client(), place.Memory(task));
  if (!rates.ok()) return rates.status();
  curve.learned_rates = *std::move(rates);
  if (next != nullptr && ReloadsMemory(variant)) {
    return HandOver(memory.client(), place, task, *next);
  }
  return absl::OkStatus();
}

// The seed of everything random in one (seed, task) pair.
uint64_t TaskSeed(int seed, int task_index) {
  return uint64_t{static_cast<uint32_t>(seed)} * 1000003u + task_index;
}

}  // namespace

void SetTorchThreads(int threads) {
  torch::set_num_threads(threads);
  torch::set_num_interop_threads(1);
}

absl::StatusOr<std::vector<Curve>> TrainVariant(
    Variant variant, int seed, const std::vector<BinaryTask>& tasks,
    const TrainingOptions& options, const ProgressCallback& progress) {
  if (!options.shared_memory.empty() && ReloadsMemory(variant)) {
    return absl::InvalidArgumentError(
        absl::StrCat(VariantName(variant), ": memory '", options.shared_memory,
                     "' is shared, so there is nothing of its own to reload"));
  }
  const MemoryPlace place = PlaceFor(variant, seed, options);
  std::vector<Curve> curves;
  for (int t = 0; t < static_cast<int>(tasks.size()); ++t) {
    const BinaryTask& task = tasks[t];
    SmallCnn model = InitialModel(TaskSeed(seed, t));
    const TaskTensors data = ToTensors(task);
    const std::vector<int64_t> order = SampleOrder(
        task.train.size(), options.samples_per_task, TaskSeed(seed, t));

    Curve curve;
    curve.variant = variant;
    curve.seed = seed;
    curve.task_index = t;
    curve.task = task.Name();

    absl::Status s;
    if (UsesMemory(variant)) {
      const BinaryTask* next =
          t + 1 < static_cast<int>(tasks.size()) ? &tasks[t + 1] : nullptr;
      s = TrainTaskWithMemory(variant, model, data, order, place, task, next,
                              options, progress, curve);
    } else {
      std::unique_ptr<torch::optim::Optimizer> optimizer =
          PlainOptimizer(variant, model, options.learning_rate);
      auto step = [&optimizer]() {
        optimizer->step();
        return absl::OkStatus();
      };
      s = TrainTask(model, data, order, options, step, progress, curve);
    }
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat(VariantName(variant), " seed ", seed, " task ",
                                 task.Name(), ": ", s.message()));
    }
    curves.push_back(std::move(curve));
  }
  return curves;
}

}  // namespace lrmem::mnist
