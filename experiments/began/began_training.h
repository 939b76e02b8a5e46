// A small BEGAN (boundary equilibrium GAN) on MNIST digits, trained with
// Adam or with Adam whose per-parameter learning rates come from a
// learning-rate memory (one memory for the generator, one for the
// discriminator).
//
// BEGAN's discriminator is an autoencoder. With L(v) the mean absolute
// reconstruction error of images v, real images x and generated G(z):
//
//   discriminator loss   L(x) - k L(G(z))
//   generator loss       L(G(z))
//   balance term         k <- clamp(k + lambda_k (gamma L(x) - L(G(z))), 0, 1)
//
// gamma (the diversity ratio) sets which share of the discriminator's
// effort goes to generated images; k keeps the two losses in that ratio.
// BEGAN's convergence measure, lower is better, is
//
//   M_global = L(x) + |gamma L(x) - L(G(z))|
//
// recorded here as its mean over the steps since the previous record,
// because a single batch's value is noisy.
//
// Both networks are small convolutional ones built as BEGAN's are (3x3
// ELU convolutions, strided down in the encoder, nearest-neighbour
// upsampling in the decoders), with few feature maps so that a run takes a
// few minutes on one CPU core. The networks work on pixels in [-1, 1]; the
// energies are reported in [0, 1] pixel units. Each update draws its own z.
// This header is free of torch.

#ifndef LRMEM_EXPERIMENTS_BEGAN_BEGAN_TRAINING_H_
#define LRMEM_EXPERIMENTS_BEGAN_BEGAN_TRAINING_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/memory_config.h"

namespace lrmem::began {

inline constexpr int kImageSide = 28;
inline constexpr int kImageSize = kImageSide * kImageSide;

enum class Variant { kAdam, kAdamMemory };

// "adam", "adam+memory".
std::string VariantName(Variant variant);
// A comma-separated list of names; INVALID_ARGUMENT on an unknown one.
absl::StatusOr<std::vector<Variant>> ParseVariants(const std::string& names);

struct BeganOptions {
  int steps = 2000;
  int batch_size = 32;
  int latent_size = 32;  // z is uniform in [-1, 1]^latent_size
  int channels = 16;     // feature maps of the first convolution
  int code_size = 32;    // the discriminator's bottleneck

  // Adam, as BEGAN trains; a fresh memory starts all values at
  // learning_rate.
  float learning_rate = 4e-4f;
  float beta1 = 0.5f;

  // 1 asks the generator's images to be reconstructed as well as the real
  // ones; lower values gave fewer kinds of digits here (mostly ones).
  float gamma = 1.0f;
  // The balance term's own learning rate. BEGAN's 0.001 leaves k near 0
  // for the few thousand steps run here, and with k at 0 nothing stops the
  // generator from collapsing onto one image.
  float lambda_k = 0.05f;

  int record_every = 50;  // steps per recorded point
  int samples = 64;       // generated images returned at the end

  // The server the memory variant keeps its memories on, "host:port".
  // Required for it.
  std::string server_address;
  // Prefixes every memory name, so runs sharing a server do not collide.
  std::string run_name = "began";
  // initial_learning_rate is overwritten with learning_rate.
  MemoryConfig memory_config;
  // When set, memory_config.meta_learning_rate is taken as a fraction of
  // learning_rate, as in the dynamics job.
  bool relative_meta_learning_rate = true;
};

// The means over the steps since the previous point.
struct CurvePoint {
  int step = 0;
  double m_global = 0.0;
  double real_loss = 0.0;       // L(x)
  double generated_loss = 0.0;  // L(G(z)), the generator's loss
  double k = 0.0;               // at the end of the window
};

struct Run {
  Variant variant = Variant::kAdam;
  int seed = 0;
  std::vector<CurvePoint> points;
  // samples * kImageSize pixels in [0, 1], row-major images, generated from
  // a fixed latent batch after the last step.
  std::vector<float> samples;
  // Memory variant: updates skipped for non-finite gradients, both
  // networks together.
  int64_t skipped_steps = 0;
};

// Called after every recorded point with the run so far.
using ProgressCallback = std::function<void(const Run&)>;

// Trains fresh networks on `images` (n * kImageSize pixels in [0, 1]). The
// seed fixes the initial weights, batches and latent draws, so both
// variants with the same seed start alike. Memory errors and failed steps
// come back as a status naming the variant and seed.
absl::StatusOr<Run> Train(Variant variant, int seed,
                          const std::vector<float>& images,
                          const BeganOptions& options,
                          const ProgressCallback& progress);

// Libtorch's intra-op threads for the whole process.
void SetTorchThreads(int threads);

}  // namespace lrmem::began

#endif  // LRMEM_EXPERIMENTS_BEGAN_BEGAN_TRAINING_H_
