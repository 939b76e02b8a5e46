#include "experiments/dynamics/dynamics_training.h"

#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lrmem/torch_optimizer.h"

namespace lrmem::dynamics {
namespace {

constexpr int kInputSize = kStateSize + kNumJoints;

// LSTM over the sequence, then a linear read-out of the change of state at
// every step.
struct ForwardModelImpl : torch::nn::Module {
  explicit ForwardModelImpl(int hidden_size)
      : lstm(register_module(
            "lstm",
            torch::nn::LSTM(torch::nn::LSTMOptions(kInputSize, hidden_size)
                                .batch_first(true)))),
        readout(register_module("readout",
                                torch::nn::Linear(hidden_size, kStateSize))) {}

  // [batch, time, kInputSize] -> [batch, time, kStateSize]
  torch::Tensor forward(const torch::Tensor& inputs) {
    return readout(std::get<0>(lstm(inputs)));
  }

  torch::nn::LSTM lstm;
  torch::nn::Linear readout;
};
TORCH_MODULE(ForwardModel);

// Standardized inputs and targets of every trajectory, one [T, n] tensor
// each.
struct Sequences {
  std::vector<torch::Tensor> inputs;   // [T, kInputSize]
  std::vector<torch::Tensor> targets;  // [T, kStateSize]
};

struct Standardizer {
  torch::Tensor input_mean, input_std, target_mean, target_std;
};

// The raw inputs (state, torques) and targets (next state - state) of one
// trajectory.
std::pair<torch::Tensor, torch::Tensor> RawSequence(const Trajectory& t) {
  const int n = t.num_steps;
  torch::Tensor states =
      torch::from_blob(const_cast<float*>(t.states.data()), {n + 1, kStateSize})
          .clone();
  torch::Tensor torques =
      torch::from_blob(const_cast<float*>(t.torques.data()), {n, kNumJoints})
          .clone();
  torch::Tensor current = states.slice(0, 0, n);
  return {torch::cat({current, torques}, 1), states.slice(0, 1) - current};
}

Standardizer FitStandardizer(const std::vector<Trajectory>& train) {
  std::vector<torch::Tensor> inputs, targets;
  for (const Trajectory& t : train) {
    auto [x, y] = RawSequence(t);
    inputs.push_back(x);
    targets.push_back(y);
  }
  torch::Tensor x = torch::cat(inputs), y = torch::cat(targets);
  // The floor keeps a joint that never moved from dividing by zero.
  return {x.mean(0), x.std(0).clamp_min(1e-6), y.mean(0),
          y.std(0).clamp_min(1e-9)};
}

Sequences Standardize(const std::vector<Trajectory>& trajectories,
                      const Standardizer& s) {
  Sequences out;
  for (const Trajectory& t : trajectories) {
    auto [x, y] = RawSequence(t);
    out.inputs.push_back((x - s.input_mean) / s.input_std);
    out.targets.push_back((y - s.target_mean) / s.target_std);
  }
  return out;
}

// Held-out trajectories cut into consecutive windows of the training
// length, evaluated as one batch; the tail shorter than a window is left
// out.
std::pair<torch::Tensor, torch::Tensor> HeldOutWindows(const Sequences& s,
                                                       int length) {
  std::vector<torch::Tensor> inputs, targets;
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const int64_t windows = s.inputs[i].size(0) / length;
    inputs.push_back(s.inputs[i]
                         .slice(0, 0, windows * length)
                         .reshape({windows, length, kInputSize}));
    targets.push_back(s.targets[i]
                          .slice(0, 0, windows * length)
                          .reshape({windows, length, kStateSize}));
  }
  return {torch::cat(inputs), torch::cat(targets)};
}

double Nmse(ForwardModel& model, const torch::Tensor& inputs,
            const torch::Tensor& targets) {
  torch::NoGradGuard no_grad;
  torch::Tensor y = targets.reshape({-1, kStateSize});
  torch::Tensor error = model->forward(inputs).reshape({-1, kStateSize}) - y;
  torch::Tensor variance = (y - y.mean(0)).pow(2).mean(0);
  return (error.pow(2).mean(0) / variance).mean().item<double>();
}

// Draws training batches of random subsequences; seeded so that every
// variant sees the same batches.
class BatchSampler {
 public:
  BatchSampler(const Sequences& train, int batch_size, int length,
               uint64_t seed)
      : train_(train), batch_size_(batch_size), length_(length), rng_(seed) {}

  std::pair<torch::Tensor, torch::Tensor> Next() {
    std::uniform_int_distribution<size_t> pick(0, train_.inputs.size() - 1);
    std::vector<torch::Tensor> inputs, targets;
    for (int b = 0; b < batch_size_; ++b) {
      const size_t i = pick(rng_);
      std::uniform_int_distribution<int64_t> start(
          0, train_.inputs[i].size(0) - length_);
      const int64_t s = start(rng_);
      inputs.push_back(train_.inputs[i].slice(0, s, s + length_));
      targets.push_back(train_.targets[i].slice(0, s, s + length_));
    }
    return {torch::stack(inputs), torch::stack(targets)};
  }

 private:
  const Sequences& train_;
  int batch_size_;
  int length_;
  std::mt19937_64 rng_;
};

// Initial weights come from libtorch's global generator; the lock keeps runs
// on other threads from drawing between the seeding and the last draw.
ForwardModel InitialModel(int seed, int hidden_size) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  torch::manual_seed(seed);
  return ForwardModel(hidden_size);
}

absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> MakeOptimizer(
    Variant variant, int seed, ForwardModel& model,
    const TrainingOptions& options) {
  const bool sgd = variant == Variant::kSgd || variant == Variant::kSgdMemory;
  const float lr = sgd ? options.sgd_learning_rate : options.adam_learning_rate;
  if (variant == Variant::kSgd) {
    return std::make_unique<torch::optim::SGD>(model->parameters(),
                                               torch::optim::SGDOptions(lr));
  }
  if (variant == Variant::kAdam) {
    return std::make_unique<torch::optim::Adam>(model->parameters(),
                                                torch::optim::AdamOptions(lr));
  }
  MemoryOptimizerOptions memory;
  memory.server_address = options.server_address;
  memory.memory =
      absl::StrCat(options.run_name, "/", VariantName(variant), "/", seed);
  memory.config = options.memory_config;
  memory.config.initial_learning_rate = lr;
  if (options.relative_meta_learning_rate) {
    memory.config.meta_learning_rate *= lr;
  }
  memory.base = sgd ? BaseOptimizer::kSgd : BaseOptimizer::kAdam;
  absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
      MemoryOptimizer::Create(model->named_parameters().pairs(), memory);
  if (!optimizer.ok()) return optimizer.status();
  return std::unique_ptr<torch::optim::Optimizer>(*std::move(optimizer));
}

int64_t SkippedSteps(torch::optim::Optimizer& optimizer) {
  auto* memory = dynamic_cast<MemoryOptimizer*>(&optimizer);
  return memory == nullptr ? 0 : memory->skipped_steps();
}

}  // namespace

std::string VariantName(Variant variant) {
  switch (variant) {
    case Variant::kSgd:
      return "sgd";
    case Variant::kAdam:
      return "adam";
    case Variant::kSgdMemory:
      return "sgd+memory";
    case Variant::kAdamMemory:
      return "adam+memory";
  }
  return "unknown";
}

absl::StatusOr<std::vector<Variant>> ParseVariants(const std::string& names) {
  std::vector<Variant> out;
  for (absl::string_view name : absl::StrSplit(names, ',')) {
    bool found = false;
    for (Variant v : {Variant::kSgd, Variant::kAdam, Variant::kSgdMemory,
                      Variant::kAdamMemory}) {
      if (name == VariantName(v)) {
        out.push_back(v);
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown variant '", name,
                       "'; expected sgd, adam, sgd+memory or adam+memory"));
    }
  }
  return out;
}

bool UsesMemory(Variant variant) {
  return variant == Variant::kSgdMemory || variant == Variant::kAdamMemory;
}

absl::StatusOr<Curve> TrainVariant(Variant variant, int seed,
                                   const std::vector<Trajectory>& train,
                                   const std::vector<Trajectory>& held_out,
                                   const TrainingOptions& options,
                                   const ProgressCallback& progress) {
  const std::string what =
      absl::StrCat(VariantName(variant), " seed ", seed, ": ");

  // Data, standardized with the training set's statistics only.
  const Standardizer standardizer = FitStandardizer(train);
  const Sequences train_sequences = Standardize(train, standardizer);
  const auto [eval_inputs, eval_targets] = HeldOutWindows(
      Standardize(held_out, standardizer), options.sequence_length);

  // Model and optimizer, both fixed by the seed.
  ForwardModel model = InitialModel(seed, options.hidden_size);
  absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> optimizer =
      MakeOptimizer(variant, seed, model, options);
  if (!optimizer.ok()) {
    return absl::Status(optimizer.status().code(),
                        what + std::string(optimizer.status().message()));
  }
  BatchSampler sampler(train_sequences, options.batch_size,
                       options.sequence_length, seed);

  Curve curve{variant, seed, {}, 0};
  for (int step = 0; step <= options.steps; ++step) {
    if (step % options.eval_every == 0 || step == options.steps) {
      curve.points.push_back({step, Nmse(model, eval_inputs, eval_targets)});
      curve.skipped_steps = SkippedSteps(**optimizer);
      if (progress) progress(curve);
    }
    if (step == options.steps) break;
    auto [inputs, targets] = sampler.Next();
    (*optimizer)->zero_grad();
    torch::mse_loss(model->forward(inputs), targets).backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(),
                                      options.max_gradient_norm);
    try {
      (*optimizer)->step();
    } catch (const std::runtime_error& e) {
      return absl::InternalError(
          absl::StrCat(what, "step ", step, " failed: ", e.what()));
    }
  }
  return curve;
}

void SetTorchThreads(int threads) { torch::set_num_threads(threads); }

}  // namespace lrmem::dynamics
