#include "experiments/began/began_training.h"

#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lrmem/torch_optimizer.h"

namespace lrmem::began {
namespace {

namespace nn = torch::nn;

nn::Conv2dOptions Conv3x3(int in, int out, int stride = 1) {
  return nn::Conv2dOptions(in, out, 3).stride(stride).padding(1);
}

nn::Upsample Upsample2x() {
  return nn::Upsample(nn::UpsampleOptions()
                          .scale_factor(std::vector<double>{2.0, 2.0})
                          .mode(torch::kNearest));
}

// code -> image, as BEGAN's generator and decoder are built: a linear map to
// a 7x7 grid of `channels` maps, then 3x3 ELU convolutions, nearest-neighbour
// upsampling to 14x14 and 28x28, and a last convolution to one channel.
// The output is linear, as in BEGAN: a tanh saturates at the black
// background, and an autoencoder whose output sits there stops learning.
// Train maps the data to [-1, 1]; samples are clamped to it.
struct DecoderImpl : nn::Module {
  DecoderImpl(int code, int channels)
      : channels_(channels),
        project(register_module("project",
                                nn::Linear(code, channels * kSeedCells))),
        layers(register_module(
            "layers",
            nn::Sequential(nn::ELU(), nn::Conv2d(Conv3x3(channels, channels)),
                           nn::ELU(), Upsample2x(),
                           nn::Conv2d(Conv3x3(channels, channels)), nn::ELU(),
                           Upsample2x(), nn::Conv2d(Conv3x3(channels, 1))))) {}

  // [batch, code] -> [batch, kImageSize].
  torch::Tensor forward(const torch::Tensor& code) {
    const torch::Tensor seed =
        project->forward(code).view({-1, channels_, kSeedSide, kSeedSide});
    return layers->forward(seed).view({-1, kImageSize});
  }

  static constexpr int kSeedSide = kImageSide / 4;
  static constexpr int kSeedCells = kSeedSide * kSeedSide;
  int channels_;
  nn::Linear project;
  nn::Sequential layers;
};
TORCH_MODULE(Decoder);

// The discriminator: an autoencoder through a narrow code, whose
// reconstruction error is BEGAN's energy. The encoder halves the image
// twice with strided 3x3 ELU convolutions, widening the maps as it goes.
struct AutoencoderImpl : nn::Module {
  AutoencoderImpl(int channels, int code)
      : encoder(register_module(
            "encoder",
            nn::Sequential(
                nn::Conv2d(Conv3x3(1, channels)), nn::ELU(),
                nn::Conv2d(Conv3x3(channels, 2 * channels, 2)), nn::ELU(),
                nn::Conv2d(Conv3x3(2 * channels, 3 * channels, 2)), nn::ELU(),
                nn::Flatten(),
                nn::Linear(3 * channels * DecoderImpl::kSeedCells, code)))),
        decoder(register_module("decoder", Decoder(code, channels))) {}

  // Mean absolute reconstruction error of a batch of [batch, kImageSize]
  // images in [-1, 1], halved so that it reads in [0, 1] pixel units.
  torch::Tensor Energy(const torch::Tensor& images) {
    const torch::Tensor code =
        encoder->forward(images.view({-1, 1, kImageSide, kImageSide}));
    return (decoder->forward(code) - images).abs().mean() / 2;
  }

  nn::Sequential encoder;
  Decoder decoder;
};
TORCH_MODULE(Autoencoder);

struct Optimizers {
  std::unique_ptr<torch::optim::Optimizer> generator;
  std::unique_ptr<torch::optim::Optimizer> discriminator;
};

absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> MakeMemoryOptimizer(
    nn::Module& module, const std::string& memory_name,
    const BeganOptions& options) {
  MemoryOptimizerOptions memory;
  memory.server_address = options.server_address;
  memory.memory = memory_name;
  memory.config = options.memory_config;
  memory.config.initial_learning_rate = options.learning_rate;
  if (options.relative_meta_learning_rate) {
    memory.config.meta_learning_rate *= options.learning_rate;
  }
  memory.base = BaseOptimizer::kAdam;
  memory.adam.beta1 = options.beta1;
  absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
      MemoryOptimizer::Create(module.named_parameters().pairs(), memory);
  if (!optimizer.ok()) return optimizer.status();
  return std::unique_ptr<torch::optim::Optimizer>(*std::move(optimizer));
}

absl::StatusOr<Optimizers> MakeOptimizers(Variant variant, int seed,
                                          Decoder& generator,
                                          Autoencoder& discriminator,
                                          const BeganOptions& options) {
  Optimizers out;
  if (variant == Variant::kAdam) {
    const auto adam = torch::optim::AdamOptions(options.learning_rate)
                          .betas({options.beta1, 0.999});
    out.generator =
        std::make_unique<torch::optim::Adam>(generator->parameters(), adam);
    out.discriminator =
        std::make_unique<torch::optim::Adam>(discriminator->parameters(), adam);
    return out;
  }
  const std::string prefix = absl::StrCat(options.run_name, "/", seed, "/");
  auto g = MakeMemoryOptimizer(*generator, prefix + "generator", options);
  if (!g.ok()) return g.status();
  out.generator = *std::move(g);
  auto d =
      MakeMemoryOptimizer(*discriminator, prefix + "discriminator", options);
  if (!d.ok()) return d.status();
  out.discriminator = *std::move(d);
  return out;
}

int64_t SkippedSteps(const Optimizers& optimizers) {
  int64_t skipped = 0;
  for (auto* o : {optimizers.generator.get(), optimizers.discriminator.get()}) {
    if (auto* memory = dynamic_cast<MemoryOptimizer*>(o)) {
      skipped += memory->skipped_steps();
    }
  }
  return skipped;
}

// Sums of the per-step measures over one recording window.
struct Window {
  double m_global = 0, real_loss = 0, generated_loss = 0;
  int steps = 0;

  CurvePoint Mean(int step, double k) const {
    return {step, m_global / steps, real_loss / steps, generated_loss / steps,
            k};
  }
};

class BeganTrainer {
 public:
  BeganTrainer(Decoder generator, Autoencoder discriminator,
               Optimizers optimizers, const BeganOptions& options, int seed)
      : g_(std::move(generator)),
        d_(std::move(discriminator)),
        optimizers_(std::move(optimizers)),
        options_(options),
        latent_rng_(at::detail::createCPUGenerator(seed)) {}

  // One discriminator and one generator update on a batch of real images
  // in [-1, 1]; returns L(x) and L(G(z_G)). Each update draws its own z.
  // Throws std::runtime_error from a failing memory step.
  std::pair<double, double> Step(const torch::Tensor& real) {
    // Discriminator: reconstruct real images, fail on generated ones as
    // much as k asks.
    const torch::Tensor fake = g_->forward(Latent(real.size(0))).detach();
    const torch::Tensor real_loss = d_->Energy(real);
    optimizers_.discriminator->zero_grad();
    (real_loss - k_ * d_->Energy(fake)).backward();
    optimizers_.discriminator->step();

    // Generator: make images the discriminator reconstructs well. This
    // also fills the discriminator's gradients, which its next zero_grad
    // clears.
    optimizers_.generator->zero_grad();
    const torch::Tensor generated_loss =
        d_->Energy(g_->forward(Latent(real.size(0))));
    generated_loss.backward();
    optimizers_.generator->step();

    // Balance.
    const double lx = real_loss.item<double>();
    const double lg = generated_loss.item<double>();
    k_ = std::clamp(k_ + options_.lambda_k * (options_.gamma * lx - lg), 0.0,
                    1.0);
    return {lx, lg};
  }

  double k() const { return k_; }
  const Optimizers& optimizers() const { return optimizers_; }

  std::vector<float> Samples(const torch::Tensor& z) {
    torch::NoGradGuard no_grad;
    torch::Tensor images = ((g_->forward(z).clamp(-1, 1) + 1) / 2).contiguous();
    return std::vector<float>(images.data_ptr<float>(),
                              images.data_ptr<float>() + images.numel());
  }

 private:
  // z uniform in [-1, 1]^latent_size.
  torch::Tensor Latent(int64_t batch) {
    return torch::rand({batch, options_.latent_size}, latent_rng_) * 2 - 1;
  }

  Decoder g_;
  Autoencoder d_;
  Optimizers optimizers_;
  const BeganOptions& options_;
  // The run's own latent draws: runs on other threads share libtorch's
  // global generator.
  at::Generator latent_rng_;
  double k_ = 0.0;
};

struct Networks {
  Decoder generator;
  Autoencoder discriminator;
  torch::Tensor sample_z;  // the latent batch of the final samples
};

// Initial weights come from libtorch's global generator; the lock keeps runs
// on other threads from drawing between the seeding and the last draw.
Networks InitialNetworks(int seed, const BeganOptions& options) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  torch::manual_seed(seed);
  Networks out{Decoder(options.latent_size, options.channels),
               Autoencoder(options.channels, options.code_size),
               torch::Tensor()};
  out.sample_z = torch::rand({options.samples, options.latent_size}) * 2 - 1;
  return out;
}

}  // namespace

std::string VariantName(Variant variant) {
  return variant == Variant::kAdam ? "adam" : "adam+memory";
}

absl::StatusOr<std::vector<Variant>> ParseVariants(const std::string& names) {
  std::vector<Variant> out;
  for (absl::string_view name : absl::StrSplit(names, ',')) {
    if (name == "adam") {
      out.push_back(Variant::kAdam);
    } else if (name == "adam+memory") {
      out.push_back(Variant::kAdamMemory);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown variant '", name, "'; expected adam or adam+memory"));
    }
  }
  return out;
}

absl::StatusOr<Run> Train(Variant variant, int seed,
                          const std::vector<float>& images,
                          const BeganOptions& options,
                          const ProgressCallback& progress) {
  const std::string what =
      absl::StrCat(VariantName(variant), " seed ", seed, ": ");
  const int64_t n = images.size() / kImageSize;
  // BEGAN's networks work on pixels in [-1, 1].
  const torch::Tensor data =
      torch::from_blob(const_cast<float*>(images.data()), {n, kImageSize}) * 2 -
      1;

  // Networks, optimizers and the fixed latent batch for the final samples.
  Networks nets = InitialNetworks(seed, options);
  absl::StatusOr<Optimizers> optimizers = MakeOptimizers(
      variant, seed, nets.generator, nets.discriminator, options);
  if (!optimizers.ok()) {
    return absl::Status(optimizers.status().code(),
                        what + std::string(optimizers.status().message()));
  }
  BeganTrainer trainer(nets.generator, nets.discriminator,
                       *std::move(optimizers), options, seed);

  Run run{variant, seed, {}, {}, 0};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  Window window;
  for (int step = 1; step <= options.steps; ++step) {
    std::vector<int64_t> rows(options.batch_size);
    for (int64_t& r : rows) r = pick(rng);
    const torch::Tensor real =
        data.index_select(0, torch::tensor(rows, torch::kLong));
    std::pair<double, double> losses;
    try {
      losses = trainer.Step(real);
    } catch (const std::runtime_error& e) {
      return absl::InternalError(
          absl::StrCat(what, "step ", step, " failed: ", e.what()));
    }
    const auto [lx, lg] = losses;
    window.m_global += lx + std::abs(options.gamma * lx - lg);
    window.real_loss += lx;
    window.generated_loss += lg;
    ++window.steps;
    if (step % options.record_every == 0 || step == options.steps) {
      run.points.push_back(window.Mean(step, trainer.k()));
      run.skipped_steps = SkippedSteps(trainer.optimizers());
      window = Window();
      if (progress) progress(run);
    }
  }
  run.samples = trainer.Samples(nets.sample_z);
  return run;
}

void SetTorchThreads(int threads) { torch::set_num_threads(threads); }

}  // namespace lrmem::began
