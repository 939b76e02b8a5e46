// Cost of the memory's per-step work for one parameter group, next to the
// cheapest possible optimizer step over the same parameters.
//
//   BM_SgdUpdate/D           w -= lr * g over D floats: the memory-bandwidth
//                            floor of any optimizer step.
//   BM_MemoryStepEven/D/M    one full step of the memory for a group of D
//   BM_MemoryStepLog/D/M     parameters and M local models: the statistic
//                            from the previous and current gradient, the
//                            O(M) update of the values, and a learning rate
//                            for every parameter.
//
// Counters: `window`, the local models the exact evaluation visits per
// signal; `grid_nodes`, the nodes of the interpolation grid when the group
// is large enough to be evaluated on it (0: evaluated exactly). The sizes
// around 1e4 show where the grid starts to pay.
//
// Run: build/bench/core_benchmark --benchmark_min_time=0.5

#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/local_models.h"
#include "common/memory_group.h"

namespace lrmem {
namespace {

std::vector<float> Gradients(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<float> g(size);
  for (float& x : g) x = normal(rng);
  return g;
}

void BM_SgdUpdate(benchmark::State& state) {
  const size_t d = static_cast<size_t>(state.range(0));
  std::vector<float> w = Gradients(d, 1);
  const std::vector<float> g = Gradients(d, 2);
  const float lr = 1e-3f;
  for (auto _ : state) {
    for (size_t i = 0; i < d; ++i) w[i] -= lr * g[i];
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(d));
}

void MemoryStep(benchmark::State& state, CenterLayout layout) {
  const size_t d = static_cast<size_t>(state.range(0));
  MemoryConfig config;
  config.center_layout = layout;
  config.num_local_models = static_cast<int>(state.range(1));
  auto models = LocalModels::Create(config);
  if (!models.ok()) {
    state.SkipWithError(std::string(models.status().message()).c_str());
    return;
  }
  MemoryGroup group(config);
  // The grid is built on first use; keep that out of the timing.
  if ((*models)->UsesGrid(d)) benchmark::DoNotOptimize((*models)->grid());
  // Alternate between two gradients so that every step sees a change.
  const std::vector<float> a = Gradients(d, 3), b = Gradients(d, 4);
  std::vector<float> statistic(config.num_local_models), rates(d);
  bool flip = false;
  for (auto _ : state) {
    const std::vector<float>& previous = flip ? a : b;
    const std::vector<float>& current = flip ? b : a;
    flip = !flip;
    (*models)->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
    benchmark::DoNotOptimize(group.ApplyStatistic(config, statistic));
    (*models)->PredictRates(group.values(), current, absl::MakeSpan(rates));
    benchmark::DoNotOptimize(rates.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(d));
  state.counters["window"] = (*models)->window();
  const SignalGrid* grid = (*models)->UsesGrid(d) ? (*models)->grid() : nullptr;
  state.counters["grid_nodes"] = grid != nullptr ? grid->nodes() : 0;
}

void BM_MemoryStepEven(benchmark::State& state) {
  MemoryStep(state, CenterLayout::kEven);
}
void BM_MemoryStepLog(benchmark::State& state) {
  MemoryStep(state, CenterLayout::kLogSpaced);
}

BENCHMARK(BM_SgdUpdate)->Arg(1000)->Arg(100000)->Arg(1000000)->Arg(10000000);
BENCHMARK(BM_MemoryStepEven)
    ->Args({1000, 20})
    ->Args({3000, 20})
    ->Args({10000, 20})
    ->Args({100000, 20})
    ->Args({1000000, 20})
    ->Args({1000000, 5})
    ->Args({1000000, 80})
    ->Args({10000000, 20});
BENCHMARK(BM_MemoryStepLog)
    ->Args({1000, 21})
    ->Args({3000, 21})
    ->Args({10000, 21})
    ->Args({30000, 21})
    ->Args({100000, 21})
    ->Args({1000000, 21})
    ->Args({10000000, 21});

}  // namespace
}  // namespace lrmem

BENCHMARK_MAIN();
