// MemoryConfig: everything that defines a learning-rate memory before it
// has learned anything, with its defaults and its validation.
//
// A memory holds, per parameter group, M local models. Local model m has a
// center c_m on the axis of gradient signals, a width sigma_m and a learned
// learning-rate value v_m. A parameter whose signal is z gets the rate
//
//   eta(z) = sum_m psi_m(z) v_m / sum_m psi_m(z),
//   psi_m(z) = exp(-(z - c_m)^2 / (2 sigma_m^2)),  z clipped to [-clip, clip].
//
// After the next signal z' of the same parameter arrives, the memory learns
// whether its rate was too small (z and z' agree in sign) or too large (the
// sign flipped) and moves the values of the local models active at z.

#ifndef LRMEM_COMMON_MEMORY_CONFIG_H_
#define LRMEM_COMMON_MEMORY_CONFIG_H_

#include <string>

#include "absl/status/status.h"

namespace lrmem {

enum class CenterLayout {
  // Evenly spaced over [-clip, clip]; one width for all.
  kEven,
  // A center at zero plus geometric magnitudes from smallest_magnitude to
  // clip on each side; each center's width follows its local spacing.
  // Needs an odd number of local models.
  kLogSpaced,
};

enum class MetaOptimizerKind { kSgd, kAdam };

// How the signals z (previous) and z' (current) of one parameter turn into
// the amount by which the rate was too small (> 0) or too large (< 0).
enum class ChangeRule {
  kClampedProduct,  // clamp(z * z', -1, 1)
  kSign,            // sign(z * z')
};

// Most local models per group. The memory's state, the work of every step
// and the size of its tables grow with M; tens are typical.
inline constexpr int kMaxLocalModels = 256;

struct MemoryConfig {
  // M, the number of local models per group. At least 2, at most
  // kMaxLocalModels; odd for kLogSpaced.
  int num_local_models = 21;

  CenterLayout center_layout = CenterLayout::kLogSpaced;

  // Signals are clipped to [-clip, clip]; the outermost centers sit at
  // +-clip. Positive.
  float clip = 2.0f;

  // kLogSpaced only: the magnitude of the centers closest to zero (besides
  // zero itself). In (0, clip).
  float smallest_magnitude = 1e-4f;

  // Width of a local model as a fraction of the spacing around its center.
  // Positive. Small values make the rate curve close to piecewise constant.
  float width_scale = 0.1f;

  // Where every value starts, and so the rate a fresh memory predicts.
  // Inside [lr_min, lr_max].
  float initial_learning_rate = 1e-3f;

  // Learned values, and therefore predicted rates, stay inside these bounds.
  // 0 < lr_min <= lr_max.
  float lr_min = 1e-9f;
  float lr_max = 1.0f;

  // The memory's own optimizer, which moves the values along the learning
  // statistic.
  MetaOptimizerKind meta_optimizer = MetaOptimizerKind::kSgd;
  float meta_learning_rate = 0.01f;  // positive
  float adam_beta1 = 0.9f;           // [0, 1)
  float adam_beta2 = 0.999f;         // [0, 1)
  float adam_epsilon = 1e-8f;        // positive

  ChangeRule change_rule = ChangeRule::kClampedProduct;

  // After each update, every value moves this fraction of the way towards
  // the mean of its neighbours, which smooths the predicted-rate curve.
  // In [0, 1); 0 disables it.
  float value_smoothing = 0.0f;
};

// OK, or INVALID_ARGUMENT naming the first offending field and its value.
absl::Status ValidateConfig(const MemoryConfig& config);

std::string CenterLayoutName(CenterLayout layout);
std::string MetaOptimizerName(MetaOptimizerKind kind);
std::string ChangeRuleName(ChangeRule rule);

}  // namespace lrmem

#endif  // LRMEM_COMMON_MEMORY_CONFIG_H_
