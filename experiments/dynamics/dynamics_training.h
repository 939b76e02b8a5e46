// Learning the arm's forward dynamics with an LSTM: from the state (joint
// positions and velocities) and the applied torques at each 1 ms step to
// the next state, trained on random subsequences of the recorded
// trajectories with one of four optimizers:
//
//   sgd, adam                  libtorch's own optimizers
//   sgd+memory, adam+memory    the same base rule with one learning rate per
//                              parameter from a fresh learning-rate memory
//
// The network predicts the change of state over the step rather than the
// next state itself: at 1 ms the next state is almost the current one, and
// an error measured against the state's own spread would look small for a
// model that has learned nothing but the identity. Inputs and changes are
// standardized with the training set's mean and deviation.
//
// Quality is the normalized mean squared error (NMSE) on held-out
// trajectories: per output dimension, the mean squared error of the
// predicted change divided by the variance of the true change, averaged
// over the 14 dimensions. 1 is what predicting the mean change achieves.
//
// This header is free of torch so that the job's main file compiles fast.

#ifndef LRMEM_EXPERIMENTS_DYNAMICS_DYNAMICS_TRAINING_H_
#define LRMEM_EXPERIMENTS_DYNAMICS_DYNAMICS_TRAINING_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/memory_config.h"
#include "experiments/dynamics/arm_simulation.h"

namespace lrmem::dynamics {

enum class Variant { kSgd, kAdam, kSgdMemory, kAdamMemory };

// "sgd", "adam", "sgd+memory", "adam+memory".
std::string VariantName(Variant variant);
// A comma-separated list of names; INVALID_ARGUMENT on an unknown one.
absl::StatusOr<std::vector<Variant>> ParseVariants(const std::string& names);
bool UsesMemory(Variant variant);

struct TrainingOptions {
  // Base learning rates; a fresh memory starts all its values at the one of
  // its base optimizer.
  float sgd_learning_rate = 0.1f;
  float adam_learning_rate = 0.003f;
  int steps = 1000;           // optimizer steps per run
  int batch_size = 16;        // subsequences per step
  int sequence_length = 128;  // steps per subsequence
  int hidden_size = 32;       // LSTM cells
  int eval_every = 50;        // held-out NMSE before step 0 and every this
  // Gradients are rescaled to at most this global norm before every step,
  // for every variant alike: plain SGD on an LSTM diverges without it.
  float max_gradient_norm = 1.0f;

  // The server the memory variants keep their memories on, "host:port".
  // Required for them.
  std::string server_address;
  // Prefixes every memory name, so runs sharing a server do not collide.
  std::string run_name = "dynamics";
  // initial_learning_rate is overwritten with the base learning rate.
  MemoryConfig memory_config;
  // When set, memory_config.meta_learning_rate is taken as a fraction of
  // the base learning rate, so that one setting suits SGD and Adam, whose
  // rates differ by orders of magnitude.
  bool relative_meta_learning_rate = true;
};

struct CurvePoint {
  int step = 0;
  double nmse = 0.0;
};

// One variant and one seed.
struct Curve {
  Variant variant = Variant::kSgd;
  int seed = 0;
  std::vector<CurvePoint> points;
  // Memory variants: updates the optimizer skipped (non-finite gradients).
  int64_t skipped_steps = 0;
};

// Called after every evaluation with the curve so far.
using ProgressCallback = std::function<void(const Curve&)>;

// Trains a fresh LSTM. The seed fixes the initial weights and the sequence
// of training batches, so two variants with the same seed start alike and
// see the same data. Memory errors (server unreachable, bad config) and
// failed steps come back as a status naming the variant and seed.
// REQUIRES: every trajectory is longer than options.sequence_length.
absl::StatusOr<Curve> TrainVariant(Variant variant, int seed,
                                   const std::vector<Trajectory>& train,
                                   const std::vector<Trajectory>& held_out,
                                   const TrainingOptions& options,
                                   const ProgressCallback& progress);

// Libtorch's intra-op threads for the whole process.
void SetTorchThreads(int threads);

}  // namespace lrmem::dynamics

#endif  // LRMEM_EXPERIMENTS_DYNAMICS_DYNAMICS_TRAINING_H_
