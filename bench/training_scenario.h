// Scenario "training": one optimizer step of the MNIST job's small CNN,
// forward and backward included, with each optimizer a job could use:
// libtorch's SGD and Adam, the memory in this process (no server), and the
// memory served over loopback gRPC by lrmem's MemoryOptimizer in rates and
// in statistics mode. Time per step and the ratio to libtorch's SGD.
//
// Built only with libtorch (LRMEM_WITH_TORCH).

#ifndef LRMEM_BENCH_TRAINING_SCENARIO_H_
#define LRMEM_BENCH_TRAINING_SCENARIO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_progress.h"
#include "bench/bench_table.h"

namespace lrmem::bench {

struct TrainingOptions {
  std::string server_address;
  // Samples per step; the MNIST job trains on one sample per step.
  std::vector<int> batch_sizes = {1, 32};
  int warmup_steps = 20;
  int repeats = 7;
  int steps_per_run = 200;
  float learning_rate = 0.01f;
};

absl::StatusOr<Table> RunTrainingScenario(const TrainingOptions& options,
                                          Progress* progress);

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_TRAINING_SCENARIO_H_
