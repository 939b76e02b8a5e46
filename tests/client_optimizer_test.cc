// MemoryWrappedOptimizer against a real server: its first steps on a
// quadratic match a computation by hand, and a non-finite gradient skips
// the step without sending anything.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "lrmem/memory_wrapped_optimizer.h"
#include "tests/client_test_env.h"

namespace lrmem {
namespace {

using ::lrmem::testing::ServerTest;

// Five evenly spaced centers over [-2, 2], one unit apart and one unit
// wide, so that every local model takes part in every rate.
MemoryConfig HandConfig() {
  MemoryConfig config;
  config.num_local_models = 5;
  config.center_layout = CenterLayout::kEven;
  config.clip = 2.0f;
  config.width_scale = 1.0f;
  config.initial_learning_rate = 0.1f;
  config.lr_min = 1e-6f;
  config.lr_max = 1.0f;
  config.meta_learning_rate = 0.05f;
  return config;
}

// The memory's formulas, written out for the hand computation.
double Psi(int m, double z) {
  const double center = -2.0 + m;
  z = std::clamp(z, -2.0, 2.0);
  return std::exp(-0.5 * (z - center) * (z - center));
}

double Rate(const std::vector<double>& values, double z) {
  double weighted = 0, total = 0;
  for (int m = 0; m < 5; ++m) {
    weighted += Psi(m, z) * values[m];
    total += Psi(m, z);
  }
  return weighted / total;
}

// f(w) = 0.5 * sum_i a_i w_i^2, so g_i = a_i w_i.
const std::vector<float> kCurvature = {1.0f, 2.0f, 0.5f};

std::vector<float> Gradient(const std::vector<float>& w) {
  std::vector<float> g(w.size());
  for (size_t i = 0; i < w.size(); ++i) g[i] = kCurvature[i] * w[i];
  return g;
}

SessionOptions QuadraticSession(SessionMode mode) {
  SessionOptions options;
  options.memory = "quadratic";
  options.groups = {{"w", 3}};
  options.mode = mode;
  options.create_if_missing = true;
  options.config = HandConfig();
  return options;
}

class ClientOptimizerTest : public ServerTest {};

TEST_F(ClientOptimizerTest, SgdFirstStepsMatchHandComputation) {
  absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>> optimizer =
      MemoryWrappedOptimizer::Create(
          client_.get(), QuadraticSession(SessionMode::kStatistics));
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();

  // By hand, in double precision.
  std::vector<double> values(5, 0.1);
  std::vector<double> w = {1.0, -1.0, 2.0};
  std::vector<double> previous;
  std::vector<float> params = {1.0f, -1.0f, 2.0f};
  for (int step = 0; step < 3; ++step) {
    std::vector<double> g(3);
    for (int i = 0; i < 3; ++i) g[i] = kCurvature[i] * w[i];
    if (!previous.empty()) {
      // s_m = mean_i clamp(z z', -1, 1) psi_m(z); v += meta_lr * s.
      for (int m = 0; m < 5; ++m) {
        double s = 0;
        for (int i = 0; i < 3; ++i) {
          s += std::clamp(previous[i] * g[i], -1.0, 1.0) * Psi(m, previous[i]);
        }
        values[m] = std::clamp(values[m] + 0.05 * s / 3, 1e-6, 1.0);
      }
    }
    for (int i = 0; i < 3; ++i) w[i] -= Rate(values, g[i]) * g[i];
    previous = g;

    // The optimizer, one step.
    const std::vector<float> gradient = Gradient(params);
    ASSERT_TRUE(
        (*optimizer)->Step({{"w", absl::MakeSpan(params), gradient}}).ok());
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(params[i], w[i], 1e-5 * std::abs(w[i]) + 1e-7)
          << "step " << step << " parameter " << i;
    }
  }
  // The second and third steps changed the values: rates differ from 0.1.
  EXPECT_NE((*optimizer)->last_rates()[0][0], 0.1f);
}

TEST_F(ClientOptimizerTest, NonFiniteGradientSkipsTheStep) {
  for (BaseOptimizer base : {BaseOptimizer::kSgd, BaseOptimizer::kAdam}) {
    WrappedOptimizerOptions options;
    options.base = base;
    SessionOptions session = QuadraticSession(SessionMode::kStatistics);
    session.memory = base == BaseOptimizer::kSgd ? "sgd" : "adam";
    absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>> optimizer =
        MemoryWrappedOptimizer::Create(client_.get(), session, options);
    ASSERT_TRUE(optimizer.ok()) << optimizer.status();

    std::vector<float> params = {1.0f, -1.0f, 2.0f};
    ASSERT_TRUE((*optimizer)
                    ->Step({{"w", absl::MakeSpan(params), Gradient(params)}})
                    .ok());
    const std::vector<float> before = params;

    std::vector<float> gradient = Gradient(params);
    gradient[1] = std::numeric_limits<float>::infinity();
    absl::Status status =
        (*optimizer)->Step({{"w", absl::MakeSpan(params), gradient}});
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_TRUE((*optimizer)->last_step_skipped());
    EXPECT_EQ((*optimizer)->skipped_steps(), 1);
    EXPECT_EQ(params, before);
    absl::StatusOr<v1::MemoryInfo> info = client_->GetMemory(session.memory);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->steps(), 1u);

    ASSERT_TRUE((*optimizer)
                    ->Step({{"w", absl::MakeSpan(params), Gradient(params)}})
                    .ok());
    EXPECT_FALSE((*optimizer)->last_step_skipped());
    EXPECT_NE(params, before);
  }
}

TEST_F(ClientOptimizerTest, AdamWithMemoryMinimizesTheQuadratic) {
  WrappedOptimizerOptions options;
  options.base = BaseOptimizer::kAdam;
  absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>> optimizer =
      MemoryWrappedOptimizer::Create(
          client_.get(), QuadraticSession(SessionMode::kRates), options);
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  std::vector<float> params = {1.0f, -1.0f, 2.0f};
  for (int step = 0; step < 200; ++step) {
    ASSERT_TRUE((*optimizer)
                    ->Step({{"w", absl::MakeSpan(params), Gradient(params)}})
                    .ok());
  }
  for (float p : params) EXPECT_LT(std::abs(p), 0.2f);
}

TEST_F(ClientOptimizerTest, MismatchedSpansAreRefused) {
  absl::StatusOr<std::unique_ptr<MemoryWrappedOptimizer>> optimizer =
      MemoryWrappedOptimizer::Create(client_.get(),
                                     QuadraticSession(SessionMode::kRates));
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  std::vector<float> params = {1.0f, -1.0f, 2.0f};
  const std::vector<float> gradient = {1.0f, 1.0f};
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*optimizer)->Step({{"w", absl::MakeSpan(params), gradient}})));
  EXPECT_FALSE((*optimizer)->last_step_skipped());
}

}  // namespace
}  // namespace lrmem
