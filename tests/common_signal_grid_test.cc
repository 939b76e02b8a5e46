// SignalGrid, the interpolated evaluation that LocalModels uses for large
// groups: its rates and statistics against a direct double-precision
// evaluation over every local model, within the error the grid documents,
// and when LocalModels chooses it.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "common/local_models.h"
#include "common/signal_grid.h"
#include "gtest/gtest.h"
#include "tests/local_models_reference.h"

namespace lrmem {
namespace {

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

constexpr double kTolerance = SignalGrid::kTolerance;

std::string Describe(const MemoryConfig& config) {
  return CenterLayoutName(config.center_layout) + " M " +
         std::to_string(config.num_local_models) + " clip " +
         std::to_string(config.clip) + " width_scale " +
         std::to_string(config.width_scale);
}

// The sweep's signals plus many random ones, so that every stretch between
// two nodes is hit somewhere, not only the points Create checked.
std::vector<float> DenseSignals(const LocalModels& models, std::mt19937* rng) {
  std::vector<float> signals = SweepSignals(models, rng);
  const double clip = models.config().clip;
  std::uniform_real_distribution<double> linear(-clip, clip);
  std::uniform_real_distribution<double> exponent(-12.0, 0.0);
  for (int i = 0; i < 20000; ++i) {
    signals.push_back(static_cast<float>(linear(*rng)));
    const double magnitude = clip * std::pow(10.0, exponent(*rng));
    signals.push_back(static_cast<float>(i % 2 ? magnitude : -magnitude));
  }
  return signals;
}

TEST(SignalGridTest, MeasuredErrorsAreWithinTheTolerance) {
  int with_grid = 0;
  for (const MemoryConfig& config : SweepConfigs()) {
    auto models = MakeModels(config);
    ASSERT_NE(models, nullptr);
    const SignalGrid* grid = models->grid();
    if (grid == nullptr) continue;
    ++with_grid;
    EXPECT_LE(grid->weight_error(), kTolerance) << Describe(config);
    EXPECT_LE(grid->activation_error(), kTolerance) << Describe(config);
    EXPECT_LE(grid->nodes(), SignalGrid::kMaxNodes) << Describe(config);
    EXPECT_EQ(grid->layout(), config.center_layout);
  }
  // Widths of 0.001 of the spacing have no grid; the others (and widths of
  // 0.1 in particular, the default) do.
  EXPECT_GE(with_grid, 20);
}

TEST(SignalGridTest, TheDefaultConfigHasAGrid) {
  auto models = MakeModels(MemoryConfig());
  ASSERT_NE(models, nullptr);
  const SignalGrid* grid = models->grid();
  ASSERT_NE(grid, nullptr);
  std::printf(
      "default config: %d nodes, %.0f per octave, window %d, "
      "weight error %.3g, activation error %.3g\n",
      grid->nodes(), grid->resolution(), grid->window(), grid->weight_error(),
      grid->activation_error());
}

TEST(SignalGridTest, RatesMatchFullEvaluationWithinTheDocumentedBound) {
  std::mt19937 rng(17);
  double worst_of_spread = 0;
  for (const MemoryConfig& config : SweepConfigs()) {
    auto models = MakeModels(config);
    ASSERT_NE(models, nullptr);
    const SignalGrid* grid = models->grid();
    if (grid == nullptr) continue;
    const std::vector<float> signals = DenseSignals(*models, &rng);
    std::vector<float> rates(signals.size());
    for (int trial = 0; trial < 2; ++trial) {
      const std::vector<float> values =
          RandomValues(config, models->size(), &rng);
      const auto [low, high] =
          std::minmax_element(values.begin(), values.end());
      const double spread = *high - *low;
      grid->PredictRates(values, signals, config.lr_min, config.lr_max,
                         absl::MakeSpan(rates));
      for (size_t i = 0; i < signals.size(); ++i) {
        double sensitivity, cut_off;
        const double expected =
            ReferenceRate(*models, values, signals[i], &sensitivity, &cut_off);
        const double error = std::abs(rates[i] - expected);
        const double exact_bound = kRateRelativeBound * expected +
                                   std::numeric_limits<float>::epsilon() *
                                       kExponentUlps * sensitivity +
                                   cut_off;
        worst_of_spread = std::max(worst_of_spread, error / spread);
        ASSERT_LE(error, kTolerance * spread + exact_bound)
            << Describe(config) << " signal " << signals[i] << " got "
            << rates[i] << " expected " << expected;
        ASSERT_GE(rates[i], config.lr_min);
        ASSERT_LE(rates[i], config.lr_max);
      }
    }
  }
  std::printf(
      "grid rates: largest error %.3g of the values' spread "
      "(documented bound %.3g)\n",
      worst_of_spread, kTolerance);
}

TEST(SignalGridTest, StatisticMatchesFullEvaluationWithinTheDocumentedBound) {
  std::mt19937 rng(19);
  double worst_of_changes = 0;
  for (MemoryConfig config : SweepConfigs()) {
    for (ChangeRule rule : {ChangeRule::kClampedProduct, ChangeRule::kSign}) {
      config.change_rule = rule;
      auto models = MakeModels(config);
      ASSERT_NE(models, nullptr);
      const SignalGrid* grid = models->grid();
      if (grid == nullptr) continue;
      // As in the exact test: beyond the clip range, partners of magnitude
      // >= 1 so that the clamped product reads the same either way.
      const float clip = config.clip;
      const std::vector<float> previous = DenseSignals(*models, &rng);
      std::vector<float> current(previous.size());
      std::uniform_real_distribution<float> within(-clip, clip);
      std::uniform_real_distribution<float> beyond(1.0f, 1.5f * clip);
      double mean_change = 0;
      for (size_t i = 0; i < previous.size(); ++i) {
        current[i] = std::abs(previous[i]) > clip
                         ? (i % 2 ? 1 : -1) * std::max(1.0f, beyond(rng))
                         : within(rng);
        mean_change +=
            std::abs(reference::Change(rule, previous[i], current[i]));
      }
      mean_change /= previous.size();

      std::vector<float> statistic(models->size());
      grid->ComputeStatistic(rule, previous, current,
                             absl::MakeSpan(statistic));
      std::vector<double> expected, scale, cut_off;
      ReferenceStatistic(*models, previous, current, &expected, &scale,
                         &cut_off);
      for (int m = 0; m < models->size(); ++m) {
        const double error = std::abs(statistic[m] - expected[m]);
        const double exact_bound = kStatisticRelativeBound * scale[m] +
                                   cut_off[m] + kStatisticAbsoluteBound;
        worst_of_changes = std::max(worst_of_changes, error / mean_change);
        ASSERT_LE(error, kTolerance * mean_change + exact_bound)
            << Describe(config) << " rule " << ChangeRuleName(rule) << " model "
            << m << " got " << statistic[m] << " expected " << expected[m];
      }
    }
  }
  std::printf(
      "grid statistic: largest error %.3g of the mean |change| "
      "(documented bound %.3g)\n",
      worst_of_changes, kTolerance);
}

// Three wide local models at -1, 0, 1 on an even grid: at a node the grid
// gives the exact rate, and halfway between two nodes the mean of theirs.
TEST(SignalGridTest, InterpolatesLinearlyBetweenNodes) {
  MemoryConfig config = EvenConfig(3, 1.0f, 1.0f);
  config.lr_min = 0.01f;
  config.initial_learning_rate = 0.1f;
  auto models = MakeModels(config);
  ASSERT_NE(models, nullptr);
  const SignalGrid* grid = models->grid();
  ASSERT_NE(grid, nullptr);
  // resolution() nodes per unit of signal, from -clip.
  const double spacing = 1.0 / grid->resolution();
  const std::vector<float> values = {0.1f, 0.2f, 0.4f};
  const float node = static_cast<float>(-1.0 + 37 * spacing);
  const float next = static_cast<float>(-1.0 + 38 * spacing);
  const float middle = static_cast<float>(-1.0 + 37.5 * spacing);
  std::vector<float> signals = {node, next, middle};
  std::vector<float> rates(3);
  grid->PredictRates(values, signals, config.lr_min, config.lr_max,
                     absl::MakeSpan(rates));
  EXPECT_NEAR(rates[0], ReferenceRate(*models, values, node), 1e-7);
  EXPECT_NEAR(rates[1], ReferenceRate(*models, values, next), 1e-7);
  EXPECT_NEAR(rates[2], 0.5 * (rates[0] + rates[1]), 1e-7);

  // A change term of 1 halfway splits evenly between the two nodes.
  std::vector<float> statistic(3);
  grid->ComputeStatistic(ChangeRule::kSign, {middle}, {1.0f},
                         absl::MakeSpan(statistic));
  for (int m = 0; m < 3; ++m) {
    EXPECT_NEAR(
        statistic[m],
        0.5 * (models->Activation(m, node) + models->Activation(m, next)), 1e-6)
        << m;
  }
}

TEST(SignalGridTest, ConstantValuesGiveThatRateEverywhere) {
  std::mt19937 rng(23);
  for (const MemoryConfig& config : SweepConfigs()) {
    auto models = MakeModels(config);
    ASSERT_NE(models, nullptr);
    const SignalGrid* grid = models->grid();
    if (grid == nullptr) continue;
    const std::vector<float> signals = SweepSignals(*models, &rng);
    const std::vector<float> values(models->size(), 0.0625f);
    std::vector<float> rates(signals.size());
    grid->PredictRates(values, signals, config.lr_min, config.lr_max,
                       absl::MakeSpan(rates));
    for (size_t i = 0; i < signals.size(); ++i) {
      ASSERT_NEAR(rates[i], 0.0625f, 0.0625f * 1e-6)
          << Describe(config) << " signal " << signals[i];
    }
  }
}

TEST(SignalGridTest, ZeroChangesGiveAnExactlyZeroStatistic) {
  auto models = MakeModels(MemoryConfig());
  ASSERT_NE(models, nullptr);
  ASSERT_NE(models->grid(), nullptr);
  const std::vector<float> previous = {0.5f, -1e-3f, 0.0f, 3.0f, 1e-7f};
  const std::vector<float> current = {0.0f, 0.0f, 0.7f, -0.0f, 0.0f};
  std::vector<float> statistic(models->size(), 123.0f);
  models->grid()->ComputeStatistic(ChangeRule::kClampedProduct, previous,
                                   current, absl::MakeSpan(statistic));
  for (float s : statistic) EXPECT_EQ(s, 0.0f);
}

TEST(SignalGridTest, LocalModelsUsesTheGridForLargeGroupsOnly) {
  auto models = MakeModels(MemoryConfig());
  ASSERT_NE(models, nullptr);
  const SignalGrid* grid = models->grid();
  ASSERT_NE(grid, nullptr);
  // At least 2048 parameters, and at least a quarter of the node count.
  const size_t quarter = (grid->nodes() + 3) / 4;
  ASSERT_GT(quarter, 2048u);
  EXPECT_FALSE(models->UsesGrid(2047));
  EXPECT_FALSE(models->UsesGrid(quarter - 1));
  EXPECT_TRUE(models->UsesGrid(quarter));
  EXPECT_TRUE(models->UsesGrid(size_t{1} << 24));

  std::mt19937 rng(29);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  const std::vector<float> values =
      RandomValues(models->config(), models->size(), &rng);
  for (size_t size : {size_t{1000}, size_t(grid->nodes())}) {
    std::vector<float> previous(size), current(size);
    for (float& g : previous) g = normal(rng);
    for (float& g : current) g = normal(rng);
    std::vector<float> automatic(size), chosen(size);
    models->PredictRates(values, current, absl::MakeSpan(automatic));
    if (models->UsesGrid(size)) {
      grid->PredictRates(values, current, models->config().lr_min,
                         models->config().lr_max, absl::MakeSpan(chosen));
    } else {
      models->PredictRates(values, current, absl::MakeSpan(chosen),
                           LocalModels::Evaluation::kExact);
    }
    EXPECT_EQ(automatic, chosen) << size;

    std::vector<float> statistic(models->size()), expected(models->size());
    models->ComputeStatistic(previous, current, absl::MakeSpan(statistic));
    if (models->UsesGrid(size)) {
      grid->ComputeStatistic(models->config().change_rule, previous, current,
                             absl::MakeSpan(expected));
    } else {
      models->ComputeStatistic(previous, current, absl::MakeSpan(expected),
                               LocalModels::Evaluation::kExact);
    }
    EXPECT_EQ(statistic, expected) << size;
  }
}

TEST(SignalGridTest, NoGridWhereTheWidthsAreTooNarrow) {
  auto models = MakeModels(LogConfig(21, 2.0f, 1e-4f, 0.03f));
  ASSERT_NE(models, nullptr);
  EXPECT_EQ(models->grid(), nullptr);
  EXPECT_FALSE(models->UsesGrid(size_t{1} << 24));
}

TEST(SignalGridTest, ConcurrentFirstUseBuildsOneGrid) {
  auto models = MakeModels(LogConfig(11, 2.0f, 1e-3f, 0.5f));
  ASSERT_NE(models, nullptr);
  std::vector<const SignalGrid*> seen(4, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { seen[t] = models->grid(); });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_NE(seen[0], nullptr);
  for (const SignalGrid* grid : seen) EXPECT_EQ(grid, seen[0]);
}

}  // namespace
}  // namespace lrmem
