// Online training of a small CNN on a sequence of binary MNIST tasks, one
// sample per update, with one of the optimizer variants of
// mnist_variants.h. Every task starts with a freshly initialized network;
// only the memory carries over, so any gain on later tasks comes from the
// learned rates.
//
// This header is free of torch so that the job's other files compile fast.

#ifndef LRMEM_EXPERIMENTS_MNIST_MNIST_TRAINING_H_
#define LRMEM_EXPERIMENTS_MNIST_MNIST_TRAINING_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/memory_config.h"
#include "experiments/mnist/mnist_data.h"
#include "experiments/mnist/mnist_variants.h"

namespace lrmem::mnist {

struct TrainingOptions {
  // The base learning rate of every variant; a fresh memory starts all its
  // values here.
  float learning_rate = 0.01f;
  // Updates (= samples seen) per task.
  int samples_per_task = 1500;
  // Test accuracy is measured before the first update and every this many.
  int eval_every = 25;

  // Where the memory variants find their memory: a server address, or empty
  // for a server embedded in the process keeping its data in
  // `embedded_data_dir`.
  std::string server_address;
  std::string embedded_data_dir;
  // Prefixes every per-run memory and snapshot name, so runs sharing a
  // server do not collide.
  std::string run_name = "mnist";
  // Non-empty: every memory variant of every seed and task trains with this
  // one memory (created with `memory_config` if missing), which other jobs
  // may be training at the same time, instead of one memory per run and
  // task. Needs `server_address`. The reload variants are refused, since
  // restoring a snapshot over a shared memory would undo what other
  // learners taught it.
  std::string shared_memory;
  // Prefix of the learner id of every session: a run opens its session on
  // a task as "<learner_id>/<variant>-seed<N>/<task>", so that this job's
  // parallel runs, each task's fresh network and other jobs on a shared
  // memory never pass for one another's retries. Required.
  std::string learner_id = "learner";
  MemoryConfig memory_config;
  // One memory group per layer (weights and bias together) instead of one
  // per parameter tensor.
  bool group_per_layer = false;
};

// Test accuracy after a number of updates.
struct CurvePoint {
  int samples = 0;
  double accuracy = 0.0;
};

// What a memory had learned for one group at the end of a task: the value
// (learning rate) of each local model, by center.
struct LearnedRates {
  std::string group;
  std::vector<float> centers;
  std::vector<float> values;
};

// One variant, one seed, one task.
struct Curve {
  Variant variant = Variant::kSgd;
  int seed = 0;
  int task_index = 0;
  std::string task;  // BinaryTask::Name()
  std::vector<CurvePoint> points;
  // Memory variants: updates the optimizer skipped (non-finite gradients),
  // and the memory's rates at the end of the task.
  int64_t skipped_steps = 0;
  std::vector<LearnedRates> learned_rates;
};

// Called after every evaluation with the curve so far.
using ProgressCallback = std::function<void(const Curve&)>;

// Trains `variant` with `seed` on every task in order and returns one curve
// per task. The seed fixes the initial weights and the order of samples, so
// two variants with the same seed see the same data in the same order.
// Errors from the memory (server unreachable, bad config) come back as a
// status naming the variant and task; a reload variant with a shared memory
// is INVALID_ARGUMENT.
absl::StatusOr<std::vector<Curve>> TrainVariant(
    Variant variant, int seed, const std::vector<BinaryTask>& tasks,
    const TrainingOptions& options, const ProgressCallback& progress);

// Libtorch threads: one per job keeps single-sample updates fast.
void SetTorchThreads(int threads);

}  // namespace lrmem::mnist

#endif  // LRMEM_EXPERIMENTS_MNIST_MNIST_TRAINING_H_
