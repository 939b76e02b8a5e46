// The base optimizers' update rules that consume one learning rate per
// parameter, over raw float spans. The memory wraps them: it reads their
// gradient signal, predicts rates for it, and the rule applies them.
//
//   SGD:  signal = g,              w -= rate * g
//   Adam: signal = m_hat (Adam's bias-corrected first moment),
//         w -= rate * m_hat / (sqrt(v_hat) + epsilon)
//
// Thread-safety: none; one instance per parameter group.

#ifndef LRMEM_COMMON_BASE_OPTIMIZERS_H_
#define LRMEM_COMMON_BASE_OPTIMIZERS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace lrmem {

class SgdRule {
 public:
  // The signal is the gradient itself.
  absl::Span<const float> Signal(absl::Span<const float> gradient) {
    return gradient;
  }
  // params[i] -= rates[i] * gradient[i]. REQUIRES: equal sizes.
  void Apply(absl::Span<const float> gradient, absl::Span<const float> rates,
             absl::Span<float> params) const;
};

struct AdamOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
};

class AdamRule {
 public:
  explicit AdamRule(AdamOptions options = {}) : options_(options) {}

  // Folds `gradient` into the moments and returns the bias-corrected first
  // moment, valid until the next call. Call once per step, before Apply.
  absl::Span<const float> Signal(absl::Span<const float> gradient);

  // params[i] -= rates[i] * m_hat[i] / (sqrt(v_hat[i]) + epsilon), with the
  // moments of the last Signal call. REQUIRES: equal sizes.
  void Apply(absl::Span<const float> gradient, absl::Span<const float> rates,
             absl::Span<float> params) const;

  int64_t steps() const { return steps_; }

 private:
  AdamOptions options_;
  std::vector<float> first_moment_;
  std::vector<float> second_moment_;
  std::vector<float> first_moment_hat_;
  double second_correction_ = 1.0;
  int64_t steps_ = 0;
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_BASE_OPTIMIZERS_H_
