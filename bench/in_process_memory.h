// SGD with per-parameter learning rates from a learning-rate memory held in
// this process: no server, no gRPC, no storage. Per tensor it does exactly
// the work the server does for a group in rates mode (statistic from the
// previous and current gradient, update of the values, a rate per
// parameter) and then w -= rate * g. It is the floor the served modes are
// measured against.
//
// Thread-safety: none.

#ifndef LRMEM_BENCH_IN_PROCESS_MEMORY_H_
#define LRMEM_BENCH_IN_PROCESS_MEMORY_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/local_models.h"
#include "common/memory_config.h"
#include "common/memory_group.h"
#include "common/signal_history.h"
#include "torch/torch.h"

namespace lrmem::bench {

class InProcessMemorySgd {
 public:
  // Every tensor (contiguous float32 on the CPU) is a group of its own.
  // INVALID_ARGUMENT for a bad config or tensor.
  static absl::StatusOr<std::unique_ptr<InProcessMemorySgd>> Create(
      std::vector<torch::Tensor> parameters, const MemoryConfig& config);

  // Updates every parameter that has a gradient.
  void Step();

 private:
  struct Group {
    torch::Tensor parameter;
    SignalHistory history;
    MemoryGroup memory;
    std::vector<float> statistic;
    std::vector<float> rates;
  };

  InProcessMemorySgd(std::shared_ptr<const LocalModels> models)
      : models_(std::move(models)) {}
  void StepGroup(Group& group);

  std::shared_ptr<const LocalModels> models_;
  std::vector<Group> groups_;
};

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_IN_PROCESS_MEMORY_H_
