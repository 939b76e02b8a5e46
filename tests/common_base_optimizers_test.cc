// SgdRule and AdamRule against steps worked out in double precision.

#include <cmath>
#include <vector>

#include "common/base_optimizers.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

TEST(SgdRuleTest, SignalIsTheGradientAndStepIsRateTimesGradient) {
  SgdRule rule;
  const std::vector<float> gradient = {1.0f, -2.0f, 0.0f, 0.5f};
  const absl::Span<const float> signal = rule.Signal(gradient);
  EXPECT_EQ(signal.data(), gradient.data());
  EXPECT_EQ(signal.size(), gradient.size());

  std::vector<float> params = {1.0f, 1.0f, 1.0f, -3.0f};
  const std::vector<float> rates = {0.1f, 0.25f, 10.0f, 2.0f};
  rule.Apply(gradient, rates, absl::MakeSpan(params));
  EXPECT_FLOAT_EQ(params[0], 0.9f);
  EXPECT_FLOAT_EQ(params[1], 1.5f);
  EXPECT_FLOAT_EQ(params[2], 1.0f);
  EXPECT_FLOAT_EQ(params[3], -4.0f);
}

TEST(SgdRuleTest, EmptySpansAreFine) {
  SgdRule rule;
  std::vector<float> none;
  rule.Apply(none, none, absl::MakeSpan(none));
}

// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, m_hat = m / (1 - b1^t),
// v_hat = v / (1 - b2^t), w -= rate * m_hat / (sqrt(v_hat) + eps).
TEST(AdamRuleTest, StepsMatchHandComputation) {
  AdamOptions options;
  options.beta1 = 0.5f;
  options.beta2 = 0.75f;
  options.epsilon = 0.01f;
  AdamRule rule(options);
  const std::vector<std::vector<float>> gradients = {
      {1.0f, -2.0f, 0.0f}, {3.0f, 2.0f, 0.0f}, {-1.0f, 0.5f, 4.0f}};
  const std::vector<float> rates = {0.1f, 0.01f, 1.0f};
  std::vector<float> params = {0.0f, 1.0f, -1.0f};
  std::vector<double> m(3, 0), v(3, 0), w = {0.0, 1.0, -1.0};
  for (int t = 1; t <= 3; ++t) {
    const std::vector<float>& g = gradients[t - 1];
    const absl::Span<const float> signal = rule.Signal(g);
    ASSERT_EQ(signal.size(), 3u);
    EXPECT_EQ(rule.steps(), t);
    rule.Apply(g, rates, absl::MakeSpan(params));
    for (int i = 0; i < 3; ++i) {
      m[i] = 0.5 * m[i] + 0.5 * g[i];
      v[i] = 0.75 * v[i] + 0.25 * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(0.5, t));
      const double v_hat = v[i] / (1 - std::pow(0.75, t));
      w[i] -= rates[i] * m_hat / (std::sqrt(v_hat) + 0.01);
      EXPECT_NEAR(signal[i], m_hat, 1e-6 * (1 + std::abs(m_hat)))
          << "t " << t << " i " << i;
      EXPECT_NEAR(params[i], w[i], 1e-6 * (1 + std::abs(w[i])))
          << "t " << t << " i " << i;
    }
  }
}

TEST(AdamRuleTest, FirstStepIsRateTimesSignAndSignalIsTheGradient) {
  AdamRule rule;  // beta1 0.9, beta2 0.999, epsilon 1e-8
  const std::vector<float> g = {4.0f, -0.001f, 0.0f};
  const absl::Span<const float> signal = rule.Signal(g);
  EXPECT_NEAR(signal[0], 4.0f, 1e-5);
  EXPECT_NEAR(signal[1], -0.001f, 1e-8);
  EXPECT_EQ(signal[2], 0.0f);
  std::vector<float> params = {0.0f, 0.0f, 0.5f};
  rule.Apply(g, {0.1f, 0.1f, 0.1f}, absl::MakeSpan(params));
  EXPECT_NEAR(params[0], -0.1f, 1e-6);
  EXPECT_NEAR(params[1], 0.1f, 1e-5);
  EXPECT_EQ(params[2], 0.5f);
}

TEST(AdamRuleTest, LongRunStaysAccurate) {
  AdamRule rule;
  double m = 0, v = 0, w = 1.0;
  std::vector<float> params = {1.0f};
  for (int t = 1; t <= 2000; ++t) {
    const float g = static_cast<float>(std::sin(0.01 * t) + 0.5);
    rule.Signal({g});
    rule.Apply({g}, {0.001f}, absl::MakeSpan(params));
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * double(g) * g;
    const double m_hat = m / (1 - std::pow(0.9, t));
    const double v_hat = v / (1 - std::pow(0.999, t));
    w -= 0.001 * m_hat / (std::sqrt(v_hat) + 1e-8);
  }
  EXPECT_NEAR(params[0], w, 1e-4);
}

}  // namespace
}  // namespace lrmem
