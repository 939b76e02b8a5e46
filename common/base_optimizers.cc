#include "common/base_optimizers.h"

#include <cmath>

namespace lrmem {

void SgdRule::Apply(absl::Span<const float> gradient,
                    absl::Span<const float> rates,
                    absl::Span<float> params) const {
  const size_t n = params.size();
  const float* g = gradient.data();
  const float* r = rates.data();
  float* w = params.data();
  for (size_t i = 0; i < n; ++i) w[i] -= r[i] * g[i];
}

absl::Span<const float> AdamRule::Signal(absl::Span<const float> gradient) {
  const size_t n = gradient.size();
  if (first_moment_.size() != n) {
    first_moment_.assign(n, 0.0f);
    second_moment_.assign(n, 0.0f);
    first_moment_hat_.assign(n, 0.0f);
    steps_ = 0;
  }
  ++steps_;
  const float b1 = options_.beta1, b2 = options_.beta2;
  const float c1 = static_cast<float>(
      1.0 / (1.0 - std::pow(static_cast<double>(b1), steps_)));
  second_correction_ = 1.0 - std::pow(static_cast<double>(b2), steps_);
  for (size_t i = 0; i < n; ++i) {
    const float g = gradient[i];
    first_moment_[i] = b1 * first_moment_[i] + (1.0f - b1) * g;
    second_moment_[i] = b2 * second_moment_[i] + (1.0f - b2) * g * g;
    first_moment_hat_[i] = first_moment_[i] * c1;
  }
  return first_moment_hat_;
}

void AdamRule::Apply(absl::Span<const float> gradient,
                     absl::Span<const float> rates,
                     absl::Span<float> params) const {
  const size_t n = params.size();
  const float inv_c2 = static_cast<float>(1.0 / second_correction_);
  for (size_t i = 0; i < n; ++i) {
    const float v_hat = second_moment_[i] * inv_c2;
    params[i] -=
        rates[i] * first_moment_hat_[i] / (std::sqrt(v_hat) + options_.epsilon);
  }
}

}  // namespace lrmem
