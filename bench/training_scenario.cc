#include "bench/training_scenario.h"

#include <exception>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "bench/bench_stats.h"
#include "bench/in_process_memory.h"
#include "bench/small_cnn.h"
#include "lrmem/torch_optimizer.h"
#include "torch/torch.h"

namespace lrmem::bench {
namespace {

// One way of training the CNN: its own freshly seeded model and optimizer.
struct Variant {
  std::string name;
  SmallCnn model{nullptr};
  std::function<void()> optimizer_step;
  // Keep whatever optimizer_step uses alive.
  std::shared_ptr<void> optimizer;
  std::vector<double> step_seconds;       // per run: mean full step
  std::vector<double> optimizer_seconds;  // per run: mean optimizer part
};

SmallCnn FreshModel() {
  torch::manual_seed(1);
  return SmallCnn();
}

template <typename Optimizer>
void Bind(Variant& variant, std::shared_ptr<Optimizer> optimizer) {
  variant.optimizer_step = [o = optimizer.get()] { o->step(); };
  variant.optimizer = std::move(optimizer);
}

absl::Status BindServed(Variant& variant, const TrainingOptions& options,
                        int batch, bool statistics_mode) {
  MemoryOptimizerOptions served;
  served.server_address = options.server_address;
  served.memory = absl::StrCat("bench/training/", variant.name, "-b", batch);
  served.statistics_mode = statistics_mode;
  served.config.initial_learning_rate = options.learning_rate;
  absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
      MemoryOptimizer::Create(variant.model->named_parameters().pairs(),
                              served);
  if (!optimizer.ok()) return optimizer.status();
  Bind(variant, std::shared_ptr<MemoryOptimizer>(std::move(*optimizer)));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Variant>> MakeVariants(
    const TrainingOptions& options, int batch) {
  std::vector<Variant> variants(5);
  const char* names[] = {"torch-sgd", "torch-adam", "memory-in-process",
                         "memory-rates", "memory-statistics"};
  for (size_t i = 0; i < variants.size(); ++i) {
    variants[i].name = names[i];
    variants[i].model = FreshModel();
  }
  const float lr = options.learning_rate;
  Bind(variants[0],
       std::make_shared<torch::optim::SGD>(variants[0].model->parameters(),
                                           torch::optim::SGDOptions(lr)));
  Bind(variants[1],
       std::make_shared<torch::optim::Adam>(variants[1].model->parameters(),
                                            torch::optim::AdamOptions(lr)));
  MemoryConfig config;
  config.initial_learning_rate = lr;
  auto in_process =
      InProcessMemorySgd::Create(variants[2].model->parameters(), config);
  if (!in_process.ok()) return in_process.status();
  std::shared_ptr<InProcessMemorySgd> memory = std::move(*in_process);
  variants[2].optimizer_step = [o = memory.get()] { o->Step(); };
  variants[2].optimizer = std::move(memory);
  if (absl::Status s = BindServed(variants[3], options, batch, false);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = BindServed(variants[4], options, batch, true); !s.ok()) {
    return s;
  }
  return variants;
}

// Runs `steps` training steps; returns the mean seconds of a full step and
// of its optimizer part. Optimizer failures throw (MemoryOptimizer::step).
std::pair<double, double> RunSteps(Variant& variant, const torch::Tensor& x,
                                   const torch::Tensor& y, int steps) {
  double optimizer_seconds = 0.0;
  Stopwatch total;
  for (int i = 0; i < steps; ++i) {
    variant.model->zero_grad();
    torch::nn::functional::cross_entropy(variant.model->forward(x), y)
        .backward();
    Stopwatch optimizer;
    variant.optimizer_step();
    optimizer_seconds += optimizer.Seconds();
  }
  return {total.Seconds() / steps, optimizer_seconds / steps};
}

absl::Status MeasureBatch(const TrainingOptions& options, int batch,
                          std::vector<Variant>& variants, Progress* progress) {
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({batch, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 2, {batch}, torch::kInt64);
  try {
    for (Variant& variant : variants) {
      RunSteps(variant, x, y, options.warmup_steps);
    }
    // Interleaved, so that load elsewhere on the machine hits all alike.
    for (int run = 0; run < options.repeats; ++run) {
      progress->Update("training", absl::StrCat("batch ", batch, " run ",
                                                run + 1, "/", options.repeats));
      for (Variant& variant : variants) {
        auto [step, optimizer] = RunSteps(variant, x, y, options.steps_per_run);
        variant.step_seconds.push_back(step);
        variant.optimizer_seconds.push_back(optimizer);
      }
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training step: ", e.what()));
  }
  return absl::OkStatus();
}

void AddRows(int batch, const std::vector<Variant>& variants, Table& table) {
  const double sgd = Summarize(variants[0].step_seconds).median;
  for (const Variant& variant : variants) {
    const Summary step = Scaled(Summarize(variant.step_seconds), 1e6);
    const Summary optimizer = Scaled(Summarize(variant.optimizer_seconds), 1e6);
    const double ratio = step.median / (sgd * 1e6);
    table.AddRow({SizeCell(batch), TextCell(variant.name), SpreadCell(step),
                  SpreadCell(optimizer), NumberCell(ratio),
                  NumberCell((ratio - 1.0) * 100.0, 2)});
  }
}

}  // namespace

absl::StatusOr<Table> RunTrainingScenario(const TrainingOptions& options,
                                          Progress* progress) {
  Table table("training",
              "Training step of the MNIST CNN (forward + backward + update)",
              {"batch", "optimizer", "step (us)", "optimizer part (us)",
               "ratio to torch-sgd", "added vs torch-sgd (%)"});
  for (int batch : options.batch_sizes) {
    progress->Update("training", absl::StrCat("batch ", batch, ": setup"));
    absl::StatusOr<std::vector<Variant>> variants =
        MakeVariants(options, batch);
    if (!variants.ok()) return variants.status();
    if (absl::Status s = MeasureBatch(options, batch, *variants, progress);
        !s.ok()) {
      return s;
    }
    AddRows(batch, *variants, table);
  }
  table.AddNote(absl::StrCat(
      "Median [p10, p90] over ", options.repeats, " runs of ",
      options.steps_per_run, " steps (mean per step in each run), after ",
      options.warmup_steps, " warm-up steps; torch intra-op threads: ",
      torch::get_num_threads(), "."));
  return table;
}

}  // namespace lrmem::bench
