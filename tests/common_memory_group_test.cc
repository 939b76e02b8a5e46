// MemoryGroup's meta updates against steps worked out by hand: SGD and Adam
// ascent on the statistic, smoothing, clamping, and refusal of bad input
// with nothing changed.

#include <cmath>
#include <limits>
#include <vector>

#include "common/memory_group.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

MemoryConfig SmallConfig(MetaOptimizerKind kind) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kEven;
  config.num_local_models = 4;
  config.initial_learning_rate = 0.5f;
  config.lr_min = 0.01f;
  config.lr_max = 1.0f;
  config.meta_optimizer = kind;
  config.meta_learning_rate = 0.1f;
  return config;
}

std::vector<float> Values(const MemoryGroup& group) {
  return {group.values().begin(), group.values().end()};
}

TEST(MemoryGroupTest, StartsAtTheInitialRate) {
  const MemoryConfig config = SmallConfig(MetaOptimizerKind::kSgd);
  MemoryGroup group(config);
  EXPECT_EQ(Values(group), std::vector<float>(4, 0.5f));
  EXPECT_EQ(group.updates(), 0u);
  EXPECT_TRUE(group.first_moment().empty());
  EXPECT_TRUE(group.second_moment().empty());
}

TEST(MemoryGroupTest, SgdAscendsAlongTheStatistic) {
  const MemoryConfig config = SmallConfig(MetaOptimizerKind::kSgd);
  MemoryGroup group(config);
  ASSERT_TRUE(group.ApplyStatistic(config, {1.0f, -1.0f, 0.0f, 0.25f}).ok());
  // v += 0.1 * s.
  EXPECT_FLOAT_EQ(group.values()[0], 0.6f);
  EXPECT_FLOAT_EQ(group.values()[1], 0.4f);
  EXPECT_FLOAT_EQ(group.values()[2], 0.5f);
  EXPECT_FLOAT_EQ(group.values()[3], 0.525f);
  EXPECT_EQ(group.updates(), 1u);
  EXPECT_TRUE(group.first_moment().empty());

  ASSERT_TRUE(group.ApplyStatistic(config, {0.5f, 0.5f, -1.0f, 0.0f}).ok());
  EXPECT_FLOAT_EQ(group.values()[0], 0.65f);
  EXPECT_FLOAT_EQ(group.values()[1], 0.45f);
  EXPECT_FLOAT_EQ(group.values()[2], 0.4f);
  EXPECT_FLOAT_EQ(group.values()[3], 0.525f);
  EXPECT_EQ(group.updates(), 2u);
}

TEST(MemoryGroupTest, SgdClampsIntoTheBounds) {
  MemoryConfig config = SmallConfig(MetaOptimizerKind::kSgd);
  config.meta_learning_rate = 10.0f;
  MemoryGroup group(config);
  ASSERT_TRUE(
      group.ApplyStatistic(config, {1.0f, -1.0f, 0.049f, -0.0489f}).ok());
  EXPECT_EQ(group.values()[0], 1.0f);
  EXPECT_EQ(group.values()[1], 0.01f);
  EXPECT_EQ(group.values()[2], 0.99f);
  EXPECT_NEAR(group.values()[3], 0.011f, 1e-7);
}

// Adam, worked out in double: m = b1 m + (1 - b1) s, v = b2 v + (1 - b2) s^2,
// value += lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
TEST(MemoryGroupTest, AdamStepsMatchHandComputation) {
  MemoryConfig config = SmallConfig(MetaOptimizerKind::kAdam);
  config.meta_learning_rate = 0.01f;
  config.adam_beta1 = 0.5f;
  config.adam_beta2 = 0.75f;
  config.adam_epsilon = 0.01f;
  MemoryGroup group(config);
  // First step by hand: m_hat = s, v_hat = s^2, so model 0 moves by
  // 0.01 * 1 / 1.01 and model 3 by 0.01 * 0.02 / 0.03.
  const std::vector<std::vector<float>> statistics = {
      {1.0f, -0.5f, 0.0f, 0.02f}, {0.5f, 0.5f, 0.0f, -0.02f}};
  std::vector<double> m(4, 0), v(4, 0), value(4, 0.5);
  for (int t = 1; t <= 2; ++t) {
    const std::vector<float>& s = statistics[t - 1];
    ASSERT_TRUE(group.ApplyStatistic(config, s).ok());
    for (int k = 0; k < 4; ++k) {
      m[k] = 0.5 * m[k] + 0.5 * s[k];
      v[k] = 0.75 * v[k] + 0.25 * s[k] * s[k];
      const double m_hat = m[k] / (1 - std::pow(0.5, t));
      const double v_hat = v[k] / (1 - std::pow(0.75, t));
      value[k] += 0.01 * m_hat / (std::sqrt(v_hat) + 0.01);
      EXPECT_NEAR(group.values()[k], value[k], 1e-6) << "t " << t << " " << k;
      ASSERT_EQ(group.first_moment().size(), 4u);
      ASSERT_EQ(group.second_moment().size(), 4u);
      EXPECT_NEAR(group.first_moment()[k], m[k], 1e-7) << k;
      EXPECT_NEAR(group.second_moment()[k], v[k], 1e-7) << k;
    }
    EXPECT_EQ(group.updates(), static_cast<uint64_t>(t));
  }
  // A model whose statistic stayed zero never moved.
  EXPECT_EQ(group.values()[2], 0.5f);
}

TEST(MemoryGroupTest, AdamFirstStepIsAboutTheMetaRateTimesTheSign) {
  MemoryConfig config = SmallConfig(MetaOptimizerKind::kAdam);
  config.meta_learning_rate = 0.05f;
  MemoryGroup group(config);
  ASSERT_TRUE(group.ApplyStatistic(config, {0.9f, -1e-3f, 0.0f, 1e-2f}).ok());
  EXPECT_NEAR(group.values()[0], 0.55, 1e-6);
  EXPECT_NEAR(group.values()[1], 0.45, 1e-6);
  EXPECT_EQ(group.values()[2], 0.5f);
  EXPECT_NEAR(group.values()[3], 0.55, 1e-6);
}

TEST(MemoryGroupTest, AllZeroStatisticChangesNothing) {
  for (auto kind : {MetaOptimizerKind::kSgd, MetaOptimizerKind::kAdam}) {
    MemoryConfig config = SmallConfig(kind);
    config.value_smoothing = 0.5f;
    MemoryGroup group(config);
    ASSERT_TRUE(group.ApplyStatistic(config, {0.5f, 0.0f, 0.0f, -1.0f}).ok());
    const std::vector<float> values = Values(group);
    const std::vector<float> first(group.first_moment().begin(),
                                   group.first_moment().end());
    const std::vector<float> second(group.second_moment().begin(),
                                    group.second_moment().end());
    ASSERT_TRUE(group.ApplyStatistic(config, {0.0f, -0.0f, 0.0f, 0.0f}).ok());
    EXPECT_EQ(Values(group), values);
    EXPECT_EQ(group.updates(), 1u);
    EXPECT_EQ(std::vector<float>(group.first_moment().begin(),
                                 group.first_moment().end()),
              first);
    EXPECT_EQ(std::vector<float>(group.second_moment().begin(),
                                 group.second_moment().end()),
              second);
  }
}

TEST(MemoryGroupTest, BadStatisticIsRefusedWithNothingChanged) {
  for (auto kind : {MetaOptimizerKind::kSgd, MetaOptimizerKind::kAdam}) {
    const MemoryConfig config = SmallConfig(kind);
    MemoryGroup group(config);
    ASSERT_TRUE(group.ApplyStatistic(config, {0.5f, 0.0f, 0.0f, -1.0f}).ok());
    const std::vector<float> values = Values(group);
    const std::vector<float> first(group.first_moment().begin(),
                                   group.first_moment().end());

    const std::vector<std::vector<float>> bad = {
        {},
        {1.0f, 1.0f, 1.0f},
        {1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
        {1.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f, 1.0f},
        {1.0f, 1.0f, 1.0f, std::numeric_limits<float>::infinity()},
        {-std::numeric_limits<float>::infinity(), 1.0f, 1.0f, 1.0f},
        // No gradient gives an entry outside [-1, 1]; huge ones would
        // overflow Adam's second moment.
        {1.5f, 0.0f, 0.0f, 0.0f},
        {0.0f, 0.0f, 0.0f, -1e30f}};
    for (const std::vector<float>& statistic : bad) {
      const absl::Status status = group.ApplyStatistic(config, statistic);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
          << statistic.size();
      EXPECT_EQ(Values(group), values);
      EXPECT_EQ(group.updates(), 1u);
      EXPECT_EQ(std::vector<float>(group.first_moment().begin(),
                                   group.first_moment().end()),
                first);
    }
  }
}

TEST(MemoryGroupTest, StatisticOfMagnitudeOneIsAccepted) {
  const MemoryConfig config = SmallConfig(MetaOptimizerKind::kAdam);
  MemoryGroup group(config);
  // 1 plus float rounding, as a group whose every parameter sits on a
  // center with a full change term can produce.
  EXPECT_TRUE(
      group.ApplyStatistic(config, {1.0f, -1.0f, 1.0000001f, -1.0000001f})
          .ok());
  EXPECT_EQ(group.updates(), 1u);
}

// Each value moves the given fraction of the way to the mean of its
// neighbours (the only neighbour at the ends), after the meta step and
// before clamping.
TEST(MemoryGroupTest, ValueSmoothingPullsTowardTheNeighbours) {
  MemoryConfig config = SmallConfig(MetaOptimizerKind::kSgd);
  config.num_local_models = 5;
  config.meta_learning_rate = 1.0f;
  config.value_smoothing = 0.5f;
  MemoryGroup group(config);
  ASSERT_TRUE(
      group.ApplyStatistic(config, {0.0f, 0.0f, 0.4f, 0.0f, -0.4f}).ok());
  // After the step: 0.5 0.5 0.9 0.5 0.1. Neighbour means: 0.5, 0.7, 0.5,
  // 0.5, 0.5.
  EXPECT_NEAR(group.values()[0], 0.5, 1e-6);
  EXPECT_NEAR(group.values()[1], 0.6, 1e-6);
  EXPECT_NEAR(group.values()[2], 0.7, 1e-6);
  EXPECT_NEAR(group.values()[3], 0.5, 1e-6);
  EXPECT_NEAR(group.values()[4], 0.3, 1e-6);
}

TEST(MemoryGroupTest, SmoothedValuesAreClamped) {
  MemoryConfig config = SmallConfig(MetaOptimizerKind::kSgd);
  config.meta_learning_rate = 10.0f;
  config.value_smoothing = 0.25f;
  MemoryGroup group(config);
  ASSERT_TRUE(group.ApplyStatistic(config, {1.0f, 1.0f, 0.0f, -0.5f}).ok());
  // Step: 10.5 10.5 0.5 -4.5. Smoothed: 10.5, 8.0, 2.0, -3.25 -> clamped.
  EXPECT_EQ(group.values()[0], 1.0f);
  EXPECT_EQ(group.values()[1], 1.0f);
  EXPECT_EQ(group.values()[2], 1.0f);
  EXPECT_EQ(group.values()[3], 0.01f);
}

TEST(MemoryGroupTest, ResetOptimizerKeepsValuesAndClearsTheRest) {
  const MemoryConfig config = SmallConfig(MetaOptimizerKind::kAdam);
  MemoryGroup group(config);
  ASSERT_TRUE(group.ApplyStatistic(config, {0.5f, 0.0f, 0.0f, -1.0f}).ok());
  group.set_last_size(77);
  const std::vector<float> values = Values(group);
  group.ResetOptimizer();
  EXPECT_EQ(Values(group), values);
  EXPECT_EQ(group.updates(), 0u);
  for (float m : group.first_moment()) EXPECT_EQ(m, 0.0f);
  for (float v : group.second_moment()) EXPECT_EQ(v, 0.0f);

  // The next step is a first Adam step again: about lr * sign(s).
  ASSERT_TRUE(group.ApplyStatistic(config, {0.0f, 0.75f, 0.0f, 0.0f}).ok());
  EXPECT_NEAR(group.values()[1], values[1] + 0.1, 1e-6);
  EXPECT_EQ(group.updates(), 1u);
}

TEST(MemoryGroupTest, RestoreChecksLengthsAndBounds) {
  const MemoryConfig config = SmallConfig(MetaOptimizerKind::kAdam);
  MemoryGroup group(config);
  ASSERT_TRUE(group
                  .Restore(config, {0.1f, 0.2f, 0.3f, 0.4f},
                           {0.01f, 0.02f, 0.03f, 0.04f},
                           {1e-4f, 2e-4f, 3e-4f, 4e-4f}, 9, 1000)
                  .ok());
  EXPECT_EQ(Values(group), (std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f}));
  EXPECT_EQ(group.updates(), 9u);
  EXPECT_EQ(group.last_size(), 1000u);
  EXPECT_EQ(group.first_moment()[3], 0.04f);

  const std::vector<float> good = {0.1f, 0.2f, 0.3f, 0.4f};
  EXPECT_FALSE(group.Restore(config, {0.1f, 0.2f, 0.3f}, {}, {}, 1, 1).ok());
  EXPECT_FALSE(
      group.Restore(config, {0.1f, 0.2f, 0.3f, 2.0f}, {}, {}, 1, 1).ok());
  EXPECT_FALSE(
      group.Restore(config, {0.1f, 0.2f, 0.3f, 0.001f}, {}, {}, 1, 1).ok());
  EXPECT_FALSE(
      group
          .Restore(config,
                   {0.1f, std::numeric_limits<float>::quiet_NaN(), 0.3f, 0.4f},
                   {}, {}, 1, 1)
          .ok());
  EXPECT_FALSE(group.Restore(config, good, {0.0f, 0.0f}, {}, 1, 1).ok());
  EXPECT_FALSE(
      group.Restore(config, good, {}, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f}, 1, 1)
          .ok());
  EXPECT_FALSE(group
                   .Restore(config, good, {0.0f, 0.0f, 0.0f, 0.0f},
                            {0.0f, -1.0f, 0.0f, 0.0f}, 1, 1)
                   .ok());
  // Nothing changed by the refusals.
  EXPECT_EQ(Values(group), good);
  EXPECT_EQ(group.updates(), 9u);
  EXPECT_EQ(group.last_size(), 1000u);
}

}  // namespace
}  // namespace lrmem
