#include "bench/in_process_memory.h"

#include <utility>

#include "common/base_optimizers.h"

namespace lrmem::bench {

absl::StatusOr<std::unique_ptr<InProcessMemorySgd>> InProcessMemorySgd::Create(
    std::vector<torch::Tensor> parameters, const MemoryConfig& config) {
  absl::StatusOr<std::shared_ptr<const LocalModels>> models =
      LocalModels::Create(config);
  if (!models.ok()) return models.status();
  std::unique_ptr<InProcessMemorySgd> optimizer(
      new InProcessMemorySgd(*models));
  for (torch::Tensor& parameter : parameters) {
    if (parameter.scalar_type() != torch::kFloat32 ||
        !parameter.is_contiguous() || !parameter.device().is_cpu()) {
      return absl::InvalidArgumentError(
          "parameters must be contiguous float32 CPU tensors");
    }
    optimizer->groups_.push_back({parameter, SignalHistory(),
                                  MemoryGroup(config),
                                  std::vector<float>(config.num_local_models),
                                  std::vector<float>(parameter.numel())});
  }
  return optimizer;
}

void InProcessMemorySgd::Step() {
  torch::NoGradGuard no_grad;
  for (Group& group : groups_) {
    if (group.parameter.grad().defined()) StepGroup(group);
  }
}

void InProcessMemorySgd::StepGroup(Group& group) {
  const torch::Tensor gradient = group.parameter.grad().contiguous();
  const absl::Span<const float> g(gradient.data_ptr<float>(), gradient.numel());
  const MemoryConfig& config = models_->config();
  if (group.history.ComputeStatistic(*models_, g,
                                     absl::MakeSpan(group.statistic))) {
    // Fails only for non-finite gradients, which this benchmark never has.
    group.memory.ApplyStatistic(config, group.statistic).IgnoreError();
  }
  models_->PredictRates(group.memory.values(), g, absl::MakeSpan(group.rates));
  group.history.Remember(g);
  SgdRule().Apply(g, group.rates,
                  absl::MakeSpan(group.parameter.data_ptr<float>(),
                                 group.parameter.numel()));
}

}  // namespace lrmem::bench
