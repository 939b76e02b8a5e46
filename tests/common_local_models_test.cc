// LocalModels against a direct double-precision evaluation of the formulas:
// the center layout from first principles, and the exact evaluation of
// PredictRates and ComputeStatistic against a full sum over every local
// model (common_signal_grid_test.cc checks the grid).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "common/local_models.h"
#include "gtest/gtest.h"
#include "tests/local_models_reference.h"

namespace lrmem {
namespace {

using reference::Change;
using reference::EvenConfig;
using reference::kExponentUlps;
using reference::kRateRelativeBound;
using reference::kStatisticAbsoluteBound;
using reference::kStatisticRelativeBound;
using reference::LogConfig;
using reference::MakeModels;
using reference::RandomValues;
using reference::ReferenceRate;
using reference::ReferenceStatistic;
using reference::SweepConfigs;
using reference::SweepSignals;

constexpr auto kExact = LocalModels::Evaluation::kExact;

TEST(LocalModelsTest, EvenCentersAreEvenlySpacedWithOneWidth) {
  const MemoryConfig config = EvenConfig(9, 2.0f, 0.25f);
  auto models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  ASSERT_EQ(models->size(), 9);
  const double spacing = 4.0 / 8.0;
  for (int m = 0; m < 9; ++m) {
    EXPECT_NEAR(models->centers()[m], -2.0 + m * spacing, 1e-6) << m;
    EXPECT_NEAR(models->widths()[m], 0.25 * spacing, 1e-7) << m;
  }
}

TEST(LocalModelsTest, EvenCentersWithTwoModelsSitAtTheClipRange) {
  auto models = MakeModels(EvenConfig(2, 3.0f, 1.0f));
  ASSERT_NE(models, nullptr);
  EXPECT_FLOAT_EQ(models->centers()[0], -3.0f);
  EXPECT_FLOAT_EQ(models->centers()[1], 3.0f);
  EXPECT_FLOAT_EQ(models->widths()[0], 6.0f);
  EXPECT_FLOAT_EQ(models->widths()[1], 6.0f);
}

TEST(LocalModelsTest, LogCentersAreGeometricOnBothSidesOfZero) {
  const int size = 11;  // five magnitudes per side
  const double clip = 2.0, smallest = 1e-4, scale = 0.3;
  auto models = MakeModels(LogConfig(size, clip, smallest, scale));
  ASSERT_NE(models, nullptr);
  ASSERT_EQ(models->size(), size);

  // Magnitudes smallest * ratio^k, k = 0..4, ending at clip.
  const int per_side = (size - 1) / 2;
  std::vector<double> expected(size);
  expected[per_side] = 0.0;
  for (int k = 0; k < per_side; ++k) {
    const double magnitude =
        smallest * std::pow(clip / smallest, k / (per_side - 1.0));
    expected[per_side + 1 + k] = magnitude;
    expected[per_side - 1 - k] = -magnitude;
  }
  for (int m = 0; m < size; ++m) {
    EXPECT_NEAR(models->centers()[m], expected[m], 1e-5 * std::abs(expected[m]))
        << m;
  }

  // Width: scale times the mean distance to the neighbouring centers,
  // one-sided at both ends.
  for (int m = 0; m < size; ++m) {
    double spacing;
    if (m == 0) {
      spacing = expected[1] - expected[0];
    } else if (m == size - 1) {
      spacing = expected[m] - expected[m - 1];
    } else {
      spacing = 0.5 * (expected[m + 1] - expected[m - 1]);
    }
    EXPECT_NEAR(models->widths()[m], scale * spacing, 1e-5 * scale * spacing)
        << m;
  }
  // The center at zero sees +-smallest on both sides.
  EXPECT_NEAR(models->widths()[per_side], scale * smallest, 1e-5 * smallest);
}

TEST(LocalModelsTest, ActivationIsTheGaussianOfTheClippedSignal) {
  auto models = MakeModels(EvenConfig(5, 1.0f, 0.5f));
  ASSERT_NE(models, nullptr);
  // Centers -1, -0.5, 0, 0.5, 1; width 0.25.
  EXPECT_NEAR(models->Activation(2, 0.0), 1.0, 1e-12);
  EXPECT_NEAR(models->Activation(2, 0.25), std::exp(-0.5), 1e-7);
  EXPECT_NEAR(models->Activation(3, 0.0), std::exp(-2.0), 1e-7);
  // 7 is clipped to 1.
  EXPECT_NEAR(models->Activation(4, 7.0), 1.0, 1e-12);
  EXPECT_NEAR(models->Activation(3, 7.0), std::exp(-2.0), 1e-7);
  EXPECT_NEAR(models->Activation(0, -1e9), 1.0, 1e-12);
}

// Three wide models, worked out by hand: centers -1, 0, 1, width 1 (scale 1,
// spacing 1), values 0.1, 0.2, 0.4.
TEST(LocalModelsTest, PredictRatesSmallCaseByHand) {
  MemoryConfig config = EvenConfig(3, 1.0f, 1.0f);
  config.lr_min = 0.01f;
  config.initial_learning_rate = 0.1f;
  auto models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  const std::vector<float> values = {0.1f, 0.2f, 0.4f};
  const std::vector<float> signals = {0.0f, 1.0f, 5.0f, -0.5f};
  std::vector<float> rates(signals.size());
  models->PredictRates(values, signals, absl::MakeSpan(rates));

  // z = 0: weights e^-0.5, 1, e^-0.5.
  const double a = std::exp(-0.5), b = std::exp(-2.0);
  EXPECT_NEAR(rates[0], (0.1 * a + 0.2 + 0.4 * a) / (2 * a + 1), 1e-7);
  // z = 1 (and 5, clipped to 1): weights e^-2, e^-0.5, 1.
  const double at_one = (0.1 * b + 0.2 * a + 0.4) / (b + a + 1);
  EXPECT_NEAR(rates[1], at_one, 1e-7);
  EXPECT_NEAR(rates[2], at_one, 1e-7);
  // z = -0.5: distances 0.5, 0.5, 1.5.
  const double c = std::exp(-0.125), e = std::exp(-1.125);
  EXPECT_NEAR(rates[3], (0.1 * c + 0.2 * c + 0.4 * e) / (2 * c + e), 1e-7);
}

TEST(LocalModelsTest, ComputeStatisticSmallCaseByHand) {
  MemoryConfig config = EvenConfig(3, 1.0f, 1.0f);
  auto models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  // Changes: clamp(0 * 1) = 0, clamp(1 * 2) = 1, clamp(-0.5 * 0.5) = -0.25.
  const std::vector<float> previous = {0.0f, 1.0f, -0.5f};
  const std::vector<float> current = {1.0f, 2.0f, 0.5f};
  std::vector<float> statistic(3);
  models->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
  const double a = std::exp(-0.5), b = std::exp(-2.0);
  const double c = std::exp(-0.125), e = std::exp(-1.125);
  EXPECT_NEAR(statistic[0], (b - 0.25 * c) / 3, 1e-7);
  EXPECT_NEAR(statistic[1], (a - 0.25 * c) / 3, 1e-7);
  EXPECT_NEAR(statistic[2], (1 - 0.25 * e) / 3, 1e-7);

  config.change_rule = ChangeRule::kSign;
  models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  models->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
  EXPECT_NEAR(statistic[0], (b - c) / 3, 1e-7);
  EXPECT_NEAR(statistic[1], (a - c) / 3, 1e-7);
  EXPECT_NEAR(statistic[2], (1 - e) / 3, 1e-7);
}

// The sign rule counts every pair of nonzero signals fully, even when their
// product is below the smallest float.
TEST(LocalModelsTest, SignRuleCountsSignalsWhoseProductUnderflows) {
  MemoryConfig config = EvenConfig(3, 1.0f, 1.0f);
  config.change_rule = ChangeRule::kSign;
  auto models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  const std::vector<float> previous = {1e-30f, -1e-44f};
  const std::vector<float> current = {1e-20f, 0.01f};
  std::vector<float> statistic(3);
  models->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
  // Both signals sit at zero for these widths: psi = e^-0.5, 1, e^-0.5, and
  // the changes +1 and -1 cancel.
  for (float s : statistic) EXPECT_NEAR(s, 0.0, 1e-7);

  models->ComputeStatistic({previous[0]}, {current[0]},
                           absl::MakeSpan(statistic));
  EXPECT_NEAR(statistic[0], std::exp(-0.5), 1e-7);
  EXPECT_NEAR(statistic[1], 1.0, 1e-7);
  EXPECT_NEAR(statistic[2], std::exp(-0.5), 1e-7);
}

TEST(LocalModelsTest, ZeroChangesGiveAnExactlyZeroStatistic) {
  auto models = MakeModels(LogConfig(21, 2.0f, 1e-4f, 0.1f));
  ASSERT_NE(models, nullptr);
  const std::vector<float> previous = {0.5f, -1e-3f, 0.0f, 3.0f};
  const std::vector<float> current = {0.0f, 0.0f, 0.7f, -0.0f};
  std::vector<float> statistic(21, 123.0f);
  models->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
  for (float s : statistic) EXPECT_EQ(s, 0.0f);
}

TEST(LocalModelsTest, ExactRatesMatchFullEvaluationEverywhere) {
  std::mt19937 rng(7);
  double worst = 0, worst_of_bound = 0, worst_overall = 0;
  for (const MemoryConfig& config : SweepConfigs()) {
    auto models = MakeModels(config);
    ASSERT_NE(models, nullptr);
    const std::vector<float> signals = SweepSignals(*models, &rng);
    for (int trial = 0; trial < 3; ++trial) {
      const std::vector<float> values =
          RandomValues(config, models->size(), &rng);
      std::vector<float> rates(signals.size());
      models->PredictRates(values, signals, absl::MakeSpan(rates), kExact);
      for (size_t i = 0; i < signals.size(); ++i) {
        double sensitivity, cut_off;
        const double expected =
            ReferenceRate(*models, values, signals[i], &sensitivity, &cut_off);
        const double error = std::abs(rates[i] - expected);
        const double rounding =
            std::numeric_limits<float>::epsilon() * kExponentUlps * sensitivity;
        const double bound = kRateRelativeBound * expected + rounding + cut_off;
        worst_of_bound = std::max(worst_of_bound, error / bound);
        worst_overall = std::max(worst_overall, error / expected);
        if (rounding + cut_off < 1e-3 * kRateRelativeBound * expected) {
          worst = std::max(worst, error / expected);
        }
        ASSERT_LE(error, bound)
            << "layout " << CenterLayoutName(config.center_layout) << " M "
            << config.num_local_models << " width_scale " << config.width_scale
            << " signal " << signals[i] << " got " << rates[i] << " expected "
            << expected;
        ASSERT_GE(rates[i], config.lr_min);
        ASSERT_LE(rates[i], config.lr_max);
      }
    }
  }
  std::printf(
      "rates: largest relative error where neither exponent rounding nor "
      "the cut-off matter %.3g, anywhere %.3g; largest error as a "
      "fraction of its bound %.3g\n",
      worst, worst_overall, worst_of_bound);
}

TEST(LocalModelsTest, ExactStatisticMatchesFullEvaluationEverywhere) {
  std::mt19937 rng(11);
  double worst = 0, worst_of_bound = 0;
  for (MemoryConfig config : SweepConfigs()) {
    // The clamped product of a clipped signal is ambiguous beyond the clip
    // range only when |z z'| < 1 there; keep clip >= 1 and pair signals
    // beyond it with partners of magnitude >= 1 so both readings agree.
    for (ChangeRule rule : {ChangeRule::kClampedProduct, ChangeRule::kSign}) {
      config.change_rule = rule;
      auto models = MakeModels(config);
      ASSERT_NE(models, nullptr);
      const float clip = config.clip;
      const std::vector<float> previous = SweepSignals(*models, &rng);
      std::vector<float> current(previous.size());
      std::uniform_real_distribution<float> within(-clip, clip);
      std::uniform_real_distribution<float> beyond(1.0f, 1.5f * clip);
      for (size_t i = 0; i < previous.size(); ++i) {
        if (std::abs(previous[i]) > clip) {
          current[i] = (i % 2 ? 1 : -1) * std::max(1.0f, beyond(rng));
        } else {
          current[i] = within(rng);
        }
      }
      std::vector<float> statistic(models->size());
      models->ComputeStatistic(previous, current, absl::MakeSpan(statistic),
                               kExact);
      std::vector<double> expected, scale, cut_off;
      ReferenceStatistic(*models, previous, current, &expected, &scale,
                         &cut_off);
      for (int m = 0; m < models->size(); ++m) {
        const double error = std::abs(statistic[m] - expected[m]);
        const double bound = kStatisticRelativeBound * scale[m] + cut_off[m] +
                             kStatisticAbsoluteBound;
        worst_of_bound = std::max(worst_of_bound, error / bound);
        if (scale[m] > 0 && cut_off[m] < 1e-3 * scale[m]) {
          worst = std::max(worst, error / scale[m]);
        }
        ASSERT_LE(error, bound)
            << "layout " << CenterLayoutName(config.center_layout) << " M "
            << config.num_local_models << " width_scale " << config.width_scale
            << " rule " << ChangeRuleName(rule) << " model " << m << " got "
            << statistic[m] << " expected " << expected[m];
      }
    }
  }
  std::printf(
      "statistic: largest error relative to the mean size of its terms "
      "where the cut-off does not matter %.3g; largest error as a fraction "
      "of its bound %.3g\n",
      worst, worst_of_bound);
}

// With width_scale 0.001 every activation underflows, even in double,
// between two centers; the rate is then the limit of the formula (the
// nearest center's value, or the mean of two equally near ones).
TEST(LocalModelsTest, RatesStayFiniteWhereEveryActivationUnderflows) {
  MemoryConfig config = EvenConfig(5, 1.0f, 0.001f);
  config.lr_min = 0.01f;
  config.initial_learning_rate = 0.1f;
  auto models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  // Centers -1, -0.5, 0, 0.5, 1; width 0.0005.
  const std::vector<float> values = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
  const std::vector<float> signals = {0.2f, 0.3f, -0.7f, 0.25f, 0.75f};
  for (float z : signals) {
    double total = 0;
    for (int m = 0; m < 5; ++m) total += models->Activation(m, z);
    EXPECT_EQ(total, 0.0) << z;
  }
  std::vector<float> rates(signals.size());
  models->PredictRates(values, signals, absl::MakeSpan(rates));
  EXPECT_FLOAT_EQ(rates[0], 0.3f);
  EXPECT_FLOAT_EQ(rates[1], 0.4f);
  EXPECT_FLOAT_EQ(rates[2], 0.2f);
  EXPECT_NEAR(rates[3], 0.35, 1e-6);
  EXPECT_NEAR(rates[4], 0.45, 1e-6);

  std::vector<float> statistic(5);
  models->ComputeStatistic(signals, std::vector<float>(5, 1.0f),
                           absl::MakeSpan(statistic));
  for (float s : statistic) EXPECT_TRUE(std::isfinite(s));
}

TEST(LocalModelsTest, ConstantValuesGiveThatRateEverywhere) {
  std::mt19937 rng(3);
  for (const MemoryConfig& config : SweepConfigs()) {
    auto models = MakeModels(config);
    ASSERT_NE(models, nullptr);
    const std::vector<float> signals = SweepSignals(*models, &rng);
    const std::vector<float> values(models->size(), 0.0625f);
    std::vector<float> rates(signals.size());
    models->PredictRates(values, signals, absl::MakeSpan(rates), kExact);
    for (size_t i = 0; i < signals.size(); ++i) {
      ASSERT_NEAR(rates[i], 0.0625f, 0.0625f * 1e-6) << signals[i];
    }
  }
}

TEST(LocalModelsTest, WindowCoversNoMoreThanEveryModel) {
  for (const MemoryConfig& config : SweepConfigs()) {
    auto models = MakeModels(config);
    ASSERT_NE(models, nullptr);
    EXPECT_GE(models->window(), 1);
    EXPECT_LE(models->window(), models->size());
  }
}

// The narrowest width bounds how finely signals are bucketed, and so the
// tables' size and build time: a layout whose narrowest local model is over
// 2^48 times narrower than clip is refused, naming what to change.
TEST(LocalModelsTest, CreateRefusesWidthsFarNarrowerThanTheClipRange) {
  absl::StatusOr<std::shared_ptr<const LocalModels>> models =
      LocalModels::Create(LogConfig(21, 3e38f, 1e-37f, 0.5f));
  ASSERT_EQ(models.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(models.status().message().find("width_scale"), std::string::npos)
      << models.status();
  EXPECT_NE(models.status().message().find("2^48"), std::string::npos)
      << models.status();
  // Widths that overflow a float are refused too.
  models = LocalModels::Create(EvenConfig(4, 1e30f, 1e30f));
  EXPECT_EQ(models.status().code(), absl::StatusCode::kInvalidArgument);
  // 2^40 is fine.
  EXPECT_TRUE(LocalModels::Create(LogConfig(21, 1.0f, 0x1p-40f, 1.0f)).ok());
  // So is the largest number of local models.
  EXPECT_TRUE(LocalModels::Create(EvenConfig(256, 2.0f, 0.5f)).ok());
}

TEST(LocalModelsTest, EqualConfigsShareOneInstance) {
  auto a = MakeModels(LogConfig(21, 2.0f, 1e-4f, 0.3f));
  auto b = MakeModels(LogConfig(21, 2.0f, 1e-4f, 0.3f));
  auto c = MakeModels(LogConfig(21, 2.0f, 1e-4f, 0.31f));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  MemoryConfig other_rate = LogConfig(21, 2.0f, 1e-4f, 0.3f);
  other_rate.lr_max = 0.5f;
  EXPECT_NE(MakeModels(other_rate), a);
}

TEST(LocalModelsTest, CreateRefusesAnInvalidConfig) {
  MemoryConfig config;
  config.num_local_models = 1;
  EXPECT_EQ(LocalModels::Create(config).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lrmem
