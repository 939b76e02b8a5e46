#include "bench/core_scenario.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/bench_stats.h"
#include "common/local_models.h"
#include "common/memory_config.h"
#include "common/memory_group.h"

namespace lrmem::bench {
namespace {

std::vector<float> Gradients(int64_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<float> g(size);
  for (float& x : g) x = normal(rng);
  return g;
}

// A kernel under test: one call is one optimizer step over D parameters.
struct Kernel {
  Kernel(std::string name, std::function<void()> step)
      : name(std::move(name)), step(std::move(step)) {}
  std::string name;
  std::function<void()> step;
  int iterations = 1;  // per run, set by the warm-up
  std::vector<double> seconds_per_step;
};

// The state of one memory step: what the server (rates mode) or the client
// (statistics mode) keeps for a group, without the I/O around it.
class MemoryStepState {
 public:
  static absl::StatusOr<std::unique_ptr<MemoryStepState>> Create(
      const MemoryConfig& config, int64_t size) {
    absl::StatusOr<std::shared_ptr<const LocalModels>> models =
        LocalModels::Create(config);
    if (!models.ok()) return models.status();
    return std::unique_ptr<MemoryStepState>(
        new MemoryStepState(config, *models, size));
  }

  // Local models evaluated per signal.
  int window() const { return models_->window(); }

  // Alternates between two gradients so that every step sees a change.
  void Step() {
    const std::vector<float>& previous = flip_ ? a_ : b_;
    const std::vector<float>& current = flip_ ? b_ : a_;
    flip_ = !flip_;
    models_->ComputeStatistic(previous, current, absl::MakeSpan(statistic_));
    group_.ApplyStatistic(config_, statistic_).IgnoreError();
    models_->PredictRates(group_.values(), current, absl::MakeSpan(rates_));
  }

 private:
  MemoryStepState(const MemoryConfig& config,
                  std::shared_ptr<const LocalModels> models, int64_t size)
      : config_(config),
        models_(std::move(models)),
        group_(config),
        a_(Gradients(size, 3)),
        b_(Gradients(size, 4)),
        statistic_(config.num_local_models),
        rates_(size) {}

  const MemoryConfig config_;
  const std::shared_ptr<const LocalModels> models_;
  MemoryGroup group_;
  const std::vector<float> a_, b_;
  std::vector<float> statistic_, rates_;
  bool flip_ = false;
};

// Tells the compiler that memory behind `data` is read, so that the SGD
// pass, whose result nobody reads, is not optimized away.
inline void KeepStores(void* data) {
  asm volatile("" : : "r"(data) : "memory");
}

double TimeSteps(Kernel& kernel, int iterations) {
  Stopwatch watch;
  for (int i = 0; i < iterations; ++i) kernel.step();
  return watch.Seconds() / iterations;
}

// One warm-up run that also sizes the timed runs, then `repeats` timed runs
// of every kernel, interleaved so that a burst of load elsewhere on the
// machine hits all kernels alike.
void Measure(const CoreOptions& options, std::vector<Kernel>& kernels,
             const std::string& label, Progress* progress) {
  for (Kernel& kernel : kernels) {
    const double once = TimeSteps(kernel, 1);
    kernel.iterations = std::max(
        1, static_cast<int>(options.run_seconds / std::max(once, 1e-9)));
    TimeSteps(kernel, kernel.iterations);
  }
  for (int run = 0; run < options.repeats; ++run) {
    progress->Update(
        "core", absl::StrCat(label, " run ", run + 1, "/", options.repeats));
    for (Kernel& kernel : kernels) {
      kernel.seconds_per_step.push_back(TimeSteps(kernel, kernel.iterations));
    }
  }
}

MemoryConfig LayoutConfig(CenterLayout layout) {
  MemoryConfig config;
  config.center_layout = layout;
  config.num_local_models = layout == CenterLayout::kEven ? 20 : 21;
  return config;
}

}  // namespace

absl::StatusOr<Table> RunCoreScenario(const CoreOptions& options,
                                      Progress* progress) {
  Table table("core", "Core: one memory step vs a plain SGD pass",
              {"D", "SGD pass (us)", "memory, even M=20 (us)", "ratio even",
               "memory, log M=21 (us)", "ratio log", "log ns/param",
               "window even/log"});
  for (int64_t size : options.sizes) {
    auto even =
        MemoryStepState::Create(LayoutConfig(CenterLayout::kEven), size);
    auto log =
        MemoryStepState::Create(LayoutConfig(CenterLayout::kLogSpaced), size);
    if (!even.ok()) return even.status();
    if (!log.ok()) return log.status();
    std::vector<float> w = Gradients(size, 1);
    const std::vector<float> g = Gradients(size, 2);
    std::vector<Kernel> kernels = {{"sgd",
                                    [&] {
                                      for (int64_t i = 0; i < size; ++i)
                                        w[i] -= 1e-3f * g[i];
                                      KeepStores(w.data());
                                    }},
                                   {"even", [&] { (*even)->Step(); }},
                                   {"log", [&] { (*log)->Step(); }}};
    Measure(options, kernels, absl::StrCat("D=", size), progress);

    const Summary sgd = Scaled(Summarize(kernels[0].seconds_per_step), 1e6);
    const Summary ev = Scaled(Summarize(kernels[1].seconds_per_step), 1e6);
    const Summary lg = Scaled(Summarize(kernels[2].seconds_per_step), 1e6);
    table.AddRow(
        {SizeCell(size), SpreadCell(sgd), SpreadCell(ev),
         NumberCell(ev.median / sgd.median), SpreadCell(lg),
         NumberCell(lg.median / sgd.median),
         NumberCell(lg.median * 1e3 / static_cast<double>(size)),
         TextCell(absl::StrCat((*even)->window(), "/", (*log)->window()))});
  }
  table.AddNote(absl::StrCat("Median [p10, p90] over ", options.repeats,
                             " runs of about ", options.run_seconds * 1e3,
                             " ms each; ratio = memory / SGD medians."));
  return table;
}

}  // namespace lrmem::bench
