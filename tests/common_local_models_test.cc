// LocalModels against a direct double-precision evaluation of the formulas:
// the center layout from first principles, and PredictRates and
// ComputeStatistic against a full sum over every local model.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "common/local_models.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

// Rates and statistics agree with the full double evaluation within these
// bounds (see the sweep tests), made of three parts:
// - float rounding: a rate within kRateRelativeBound of itself, a statistic
//   entry within kStatisticRelativeBound of the mean magnitude of its terms;
// - rounding of the exponents -(z - c)^2 / (2 sigma^2), which matters for
//   narrow widths far from every center, where exponents reach 1e5 and the
//   rate is ill-conditioned in float: kExponentUlps float epsilons of each
//   exponent (plus one), weighted by how much the result moves with it;
// - the documented cut-off: local models whose activation is below
//   exp(-kWindowLogCutoff) of the largest may be left out, so their whole
//   contribution is allowed as error. Relative to a rate this is not small
//   when neighbouring values differ by many decades (the sweep prints the
//   largest relative error).
constexpr double kRateRelativeBound = 1e-6;
constexpr double kStatisticRelativeBound = 5e-7;
constexpr double kStatisticAbsoluteBound = 1e-30;
constexpr double kExponentUlps = 4.0;

double Clip(double z, double clip) { return std::clamp(z, -clip, clip); }

// log psi_m(z) for the clipped signal, in double, from the centers and
// widths the models expose.
double LogActivation(const LocalModels& models, int m, double z) {
  const double clip = models.config().clip;
  const double d = Clip(z, clip) - models.centers()[m];
  const double sigma = models.widths()[m];
  return -d * d / (2.0 * sigma * sigma);
}

// eta(z) = sum psi v / sum psi over every local model. Exponents are taken
// relative to the largest one, which changes nothing mathematically and
// gives the limit (the nearest centers' values) where every psi underflows.
// `sensitivity`, when given, receives sum psi |v - eta| (|log psi| + 1) /
// sum psi: the change of eta when every exponent moves by its own size
// plus one; `cut_off` the change of eta when every local model below the
// cut-off is left out.
double ReferenceRate(const LocalModels& models,
                     const std::vector<float>& values, double z,
                     double* sensitivity = nullptr, double* cut_off = nullptr) {
  double max_log = -std::numeric_limits<double>::infinity();
  for (int m = 0; m < models.size(); ++m) {
    max_log = std::max(max_log, LogActivation(models, m, z));
  }
  double num = 0, den = 0;
  for (int m = 0; m < models.size(); ++m) {
    const double w = std::exp(LogActivation(models, m, z) - max_log);
    num += w * values[m];
    den += w;
  }
  const double rate = num / den;
  if (sensitivity != nullptr) {
    double moved = 0, left_out = 0;
    for (int m = 0; m < models.size(); ++m) {
      const double log_psi = LogActivation(models, m, z);
      const double term =
          std::exp(log_psi - max_log) * std::abs(values[m] - rate);
      moved += term * (std::abs(log_psi) + 1);
      if (log_psi - max_log < -LocalModels::kWindowLogCutoff) {
        left_out += term;
      }
    }
    *sensitivity = moved / den;
    if (cut_off != nullptr) *cut_off = 2 * left_out / den;
  }
  return rate;
}

double Change(ChangeRule rule, double previous, double current) {
  const double product = previous * current;
  if (rule == ChangeRule::kSign) return (product > 0) - (product < 0);
  return std::clamp(product, -1.0, 1.0);
}

// statistic[m] = mean_i change_i * psi_m(previous_i); in `scale` the mean
// of |change_i| * psi_m(previous_i), the size of its terms, and in
// `cut_off` the part of that mean which the cut-off may leave out.
void ReferenceStatistic(const LocalModels& models,
                        const std::vector<float>& previous,
                        const std::vector<float>& current,
                        std::vector<double>* statistic,
                        std::vector<double>* scale,
                        std::vector<double>* cut_off) {
  const int size = models.size();
  statistic->assign(size, 0.0);
  scale->assign(size, 0.0);
  cut_off->assign(size, 0.0);
  std::vector<double> log_psi(size);
  for (size_t i = 0; i < previous.size(); ++i) {
    const double change =
        Change(models.config().change_rule, previous[i], current[i]);
    double max_log = -std::numeric_limits<double>::infinity();
    for (int m = 0; m < size; ++m) {
      log_psi[m] = LogActivation(models, m, previous[i]);
      max_log = std::max(max_log, log_psi[m]);
    }
    for (int m = 0; m < size; ++m) {
      const double psi = std::exp(log_psi[m]);
      (*statistic)[m] += change * psi;
      (*scale)[m] += std::abs(change) * psi;
      if (log_psi[m] - max_log < -LocalModels::kWindowLogCutoff) {
        (*cut_off)[m] += std::abs(change) * psi;
      }
    }
  }
  for (int m = 0; m < size; ++m) {
    (*statistic)[m] /= previous.size();
    (*scale)[m] /= previous.size();
    (*cut_off)[m] /= previous.size();
  }
}

std::shared_ptr<const LocalModels> MakeModels(const MemoryConfig& config) {
  auto models = LocalModels::Create(config);
  EXPECT_TRUE(models.ok()) << models.status();
  return models.ok() ? *models : nullptr;
}

MemoryConfig EvenConfig(int size, float clip, float width_scale) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kEven;
  config.num_local_models = size;
  config.clip = clip;
  config.width_scale = width_scale;
  return config;
}

MemoryConfig LogConfig(int size, float clip, float smallest,
                       float width_scale) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kLogSpaced;
  config.num_local_models = size;
  config.clip = clip;
  config.smallest_magnitude = smallest;
  config.width_scale = width_scale;
  return config;
}

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

// Signals that probe every regime: zero, subnormal and tiny magnitudes, the
// centers and the points between them, the clip range and beyond it, and
// random ones on linear and logarithmic scales.
std::vector<float> SweepSignals(const LocalModels& models, std::mt19937* rng) {
  const float clip = models.config().clip;
  const float big = std::numeric_limits<float>::max();
  std::vector<float> signals = {0.0f,
                                -0.0f,
                                1e-44f,
                                1e-38f,
                                1e-30f,
                                1e-10f,
                                1e-6f,
                                models.config().smallest_magnitude,
                                clip,
                                std::nextafter(clip, 0.0f),
                                std::nextafter(clip, big),
                                2 * clip,
                                1e30f,
                                big};
  for (int m = 0; m < models.size(); ++m) {
    signals.push_back(models.centers()[m]);
    if (m + 1 < models.size()) {
      signals.push_back(0.5f * (models.centers()[m] + models.centers()[m + 1]));
      signals.push_back(0.3f * models.centers()[m] +
                        0.7f * models.centers()[m + 1]);
    }
  }
  std::uniform_real_distribution<float> linear(-1.2f * clip, 1.2f * clip);
  std::uniform_real_distribution<double> exponent(-9.0, 1.0);
  for (int i = 0; i < 1500; ++i) {
    signals.push_back(linear(*rng));
    signals.push_back(
        static_cast<float>(clip * std::pow(10.0, exponent(*rng))));
  }
  const size_t positive = signals.size();
  for (size_t i = 0; i < positive; ++i) signals.push_back(-signals[i]);
  return signals;
}

std::vector<MemoryConfig> SweepConfigs() {
  std::vector<MemoryConfig> layouts = {
      EvenConfig(21, 2.0f, 0.1f),        EvenConfig(8, 100.0f, 0.1f),
      EvenConfig(2, 1.0f, 0.1f),         LogConfig(21, 2.0f, 1e-4f, 0.1f),
      LogConfig(31, 10.0f, 1e-6f, 0.1f), LogConfig(5, 1.0f, 0.01f, 0.1f)};
  std::vector<MemoryConfig> configs;
  for (const MemoryConfig& layout : layouts) {
    for (float scale : {0.001f, 0.1f, 0.5f, 1.0f, 3.0f}) {
      MemoryConfig config = layout;
      config.width_scale = scale;
      configs.push_back(config);
    }
  }
  return configs;
}

std::vector<float> RandomValues(const MemoryConfig& config, int size,
                                std::mt19937* rng) {
  std::uniform_real_distribution<double> exponent(std::log(config.lr_min),
                                                  std::log(config.lr_max));
  std::vector<float> values(size);
  for (float& v : values) {
    v = std::clamp(static_cast<float>(std::exp(exponent(*rng))), config.lr_min,
                   config.lr_max);
  }
  // The extremes themselves.
  values[0] = config.lr_max;
  values[size - 1] = config.lr_min;
  return values;
}

TEST(LocalModelsTest, PredictRatesMatchesFullEvaluationEverywhere) {
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
      models->PredictRates(values, signals, absl::MakeSpan(rates));
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

TEST(LocalModelsTest, ComputeStatisticMatchesFullEvaluationEverywhere) {
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
      models->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
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
    models->PredictRates(values, signals, absl::MakeSpan(rates));
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

TEST(LocalModelsTest, CreateRefusesAnInvalidConfig) {
  MemoryConfig config;
  config.num_local_models = 1;
  EXPECT_EQ(LocalModels::Create(config).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lrmem
