// The memory learning end to end: SignalHistory -> ComputeStatistic ->
// ApplyStatistic -> PredictRates -> SgdRule::Apply. Properties of what it
// learns from sign patterns, and real optimizations where it beats plain
// SGD at the same base learning rate.

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "common/base_optimizers.h"
#include "common/local_models.h"
#include "common/memory_group.h"
#include "common/signal_history.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

// One parameter group learning online, as a training job runs it.
class Learner {
 public:
  explicit Learner(const MemoryConfig& config)
      : config_(config),
        models_(*LocalModels::Create(config)),
        group_(config),
        statistic_(config.num_local_models) {}

  // Learns from `signal` against the previous one and returns the rates
  // for it.
  std::vector<float> Step(const std::vector<float>& signal) {
    if (history_.ComputeStatistic(*models_, signal,
                                  absl::MakeSpan(statistic_))) {
      EXPECT_TRUE(group_.ApplyStatistic(config_, statistic_).ok());
    }
    history_.Remember(signal);
    std::vector<float> rates(signal.size());
    models_->PredictRates(group_.values(), signal, absl::MakeSpan(rates));
    return rates;
  }

  const MemoryGroup& group() const { return group_; }
  const std::vector<float>& statistic() const { return statistic_; }

 private:
  MemoryConfig config_;
  std::shared_ptr<const LocalModels> models_;
  MemoryGroup group_;
  SignalHistory history_;
  std::vector<float> statistic_;
};

// Five models at -1, -0.5, 0, 0.5, 1 with narrow widths, so that a signal
// at a center trains and reads that center's value alone.
MemoryConfig PropertyConfig(MetaOptimizerKind kind) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kEven;
  config.num_local_models = 5;
  config.clip = 1.0f;
  config.width_scale = 0.1f;
  config.initial_learning_rate = 0.01f;
  config.lr_min = 1e-4f;
  config.lr_max = 0.1f;
  config.meta_optimizer = kind;
  config.meta_learning_rate = kind == MetaOptimizerKind::kSgd ? 0.05f : 0.01f;
  return config;
}

TEST(LearningTest, SignalsThatKeepTheirSignDriveRatesUpToLrMax) {
  for (auto kind : {MetaOptimizerKind::kSgd, MetaOptimizerKind::kAdam}) {
    const MemoryConfig config = PropertyConfig(kind);
    Learner learner(config);
    const std::vector<float> signal = {0.5f, -0.5f, 0.5f};
    std::vector<float> rates = learner.Step(signal);
    EXPECT_FLOAT_EQ(rates[0], 0.01f);
    float previous_rate = rates[0];
    for (int step = 0; step < 100; ++step) {
      rates = learner.Step(signal);
      EXPECT_GE(rates[0], previous_rate) << step;
      previous_rate = rates[0];
    }
    for (float rate : rates) EXPECT_FLOAT_EQ(rate, 0.1f);
    EXPECT_FLOAT_EQ(learner.group().values()[1], 0.1f);
    EXPECT_FLOAT_EQ(learner.group().values()[3], 0.1f);
    // The models no signal came near kept their start.
    EXPECT_NEAR(learner.group().values()[0], 0.01f, 1e-6);
    EXPECT_NEAR(learner.group().values()[2], 0.01f, 1e-6);
  }
}

TEST(LearningTest, AlternatingSignsDriveRatesDownToLrMin) {
  for (auto kind : {MetaOptimizerKind::kSgd, MetaOptimizerKind::kAdam}) {
    const MemoryConfig config = PropertyConfig(kind);
    Learner learner(config);
    float sign = 1.0f, previous_rate = 0.01f;
    std::vector<float> rates;
    for (int step = 0; step < 100; ++step) {
      rates = learner.Step({sign * 0.5f, -sign * 0.5f});
      EXPECT_LE(rates[0], previous_rate) << step;
      previous_rate = rates[0];
      sign = -sign;
    }
    for (float rate : rates) EXPECT_FLOAT_EQ(rate, 1e-4f);
    EXPECT_FLOAT_EQ(learner.group().values()[1], 1e-4f);
    EXPECT_FLOAT_EQ(learner.group().values()[3], 1e-4f);
  }
}

TEST(LearningTest, ZeroGradientsChangeNothing) {
  for (auto kind : {MetaOptimizerKind::kSgd, MetaOptimizerKind::kAdam}) {
    const MemoryConfig config = PropertyConfig(kind);
    Learner learner(config);
    learner.Step({0.5f, -1.0f});
    learner.Step({0.5f, -1.0f});
    const std::vector<float> values(learner.group().values().begin(),
                                    learner.group().values().end());
    const uint64_t updates = learner.group().updates();
    ASSERT_EQ(updates, 1u);
    // Zero after nonzero, zero after zero, nonzero after zero.
    for (const std::vector<float>& signal : std::vector<std::vector<float>>{
             {0.0f, 0.0f}, {0.0f, -0.0f}, {0.7f, -0.2f}}) {
      learner.Step(signal);
      for (float s : learner.statistic()) EXPECT_EQ(s, 0.0f);
      EXPECT_EQ(std::vector<float>(learner.group().values().begin(),
                                   learner.group().values().end()),
                values);
      EXPECT_EQ(learner.group().updates(), updates);
    }
  }
}

TEST(LearningTest, RatesStayInsideTheBoundsWhateverTheSignals) {
  MemoryConfig config;               // the documented starting point
  config.meta_learning_rate = 1.0f;  // large, to hit the bounds often
  Learner learner(config);
  std::vector<float> signal(64);
  for (int step = 0; step < 200; ++step) {
    for (size_t i = 0; i < signal.size(); ++i) {
      signal[i] = static_cast<float>(std::sin(0.37 * step * (i + 1)) *
                                     std::pow(10.0, (i % 9) - 6.0));
    }
    for (float rate : learner.Step(signal)) {
      ASSERT_GE(rate, config.lr_min);
      ASSERT_LE(rate, config.lr_max);
    }
  }
}

// A function to minimize: returns the loss and fills the gradient.
using Objective =
    std::function<double(const std::vector<float>&, std::vector<float>*)>;

// Steps of SGD from `start` until the loss is below `target` (or -1 after
// `max_steps`). With a config, the per-parameter rates come from the
// memory; without, every rate is `learning_rate`.
int StepsToReach(const Objective& objective, std::vector<float> params,
                 double target, float learning_rate, const MemoryConfig* config,
                 int max_steps) {
  std::unique_ptr<Learner> learner;
  if (config != nullptr) {
    EXPECT_EQ(config->initial_learning_rate, learning_rate);
    learner = std::make_unique<Learner>(*config);
  }
  SgdRule sgd;
  std::vector<float> gradient(params.size());
  std::vector<float> rates(params.size(), learning_rate);
  for (int step = 0; step < max_steps; ++step) {
    const double loss = objective(params, &gradient);
    if (!std::isfinite(loss)) return -1;
    if (loss < target) return step;
    if (learner != nullptr) {
      const absl::Span<const float> signal = sgd.Signal(gradient);
      rates = learner->Step({signal.begin(), signal.end()});
    }
    sgd.Apply(gradient, rates, absl::MakeSpan(params));
  }
  return -1;
}

// 0.5 (x^2 + 100 y^2): curvatures a hundred times apart.
double BadlyScaledQuadratic(const std::vector<float>& w,
                            std::vector<float>* gradient) {
  (*gradient)[0] = w[0];
  (*gradient)[1] = 100.0f * w[1];
  return 0.5 * (double(w[0]) * w[0] + 100.0 * double(w[1]) * w[1]);
}

double Rosenbrock(const std::vector<float>& w, std::vector<float>* gradient) {
  const double x = w[0], y = w[1];
  (*gradient)[0] = static_cast<float>(-2 * (1 - x) - 400 * x * (y - x * x));
  (*gradient)[1] = static_cast<float>(200 * (y - x * x));
  return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

// The documented starting point (the config's defaults: 21 log-spaced
// centers over +-2, width scale 0.1, meta learning rate 0.01) at base rate
// 1e-3.
TEST(LearningTest, MemoryBeatsPlainSgdOnABadlyScaledQuadratic) {
  const MemoryConfig config;
  ASSERT_EQ(config.initial_learning_rate, 1e-3f);
  const int plain = StepsToReach(BadlyScaledQuadratic, {1.0f, 1.0f}, 1e-6,
                                 1e-3f, nullptr, 100000);
  const int memory = StepsToReach(BadlyScaledQuadratic, {1.0f, 1.0f}, 1e-6,
                                  1e-3f, &config, 100000);
  EXPECT_EQ(plain, 6558);
  EXPECT_EQ(memory, 3508);
  EXPECT_GT(memory, 0);
  EXPECT_LT(memory, plain);
}

// Rosenbrock's gradients reach hundreds: even spacing over a wide range.
TEST(LearningTest, MemoryBeatsPlainSgdOnRosenbrock) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kEven;
  config.num_local_models = 21;
  config.clip = 100.0f;
  config.width_scale = 0.5f;
  config.meta_learning_rate = 1e-3f;
  config.initial_learning_rate = 1e-3f;
  config.lr_max = 0.01f;
  const int plain =
      StepsToReach(Rosenbrock, {-1.2f, 1.0f}, 1e-4, 1e-3f, nullptr, 100000);
  const int memory =
      StepsToReach(Rosenbrock, {-1.2f, 1.0f}, 1e-4, 1e-3f, &config, 100000);
  EXPECT_EQ(plain, 9340);
  EXPECT_EQ(memory, 3767);
  EXPECT_GT(memory, 0);
  EXPECT_LT(memory, plain);
}

}  // namespace
}  // namespace lrmem
