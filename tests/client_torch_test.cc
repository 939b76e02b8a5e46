// MemoryOptimizer, the libtorch adapter: it trains a linear model on a toy
// regression through a real (embedded) server, skips non-finite steps, and
// maps parameters to groups per parameter or per layer.

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "lrmem/torch_optimizer.h"
#include "tests/client_test_env.h"
#include "torch/torch.h"

namespace lrmem {
namespace {

using ::lrmem::testing::ScratchDir;

MemoryOptimizerOptions EmbeddedOptions(const ScratchDir& dir) {
  MemoryOptimizerOptions options;
  options.embedded_data_dir = dir.path() + "/lrmem";
  options.memory = "toy";
  options.config.initial_learning_rate = 0.05f;
  options.config.meta_learning_rate = 0.01f;
  return options;
}

// y = x W* + b* with a fixed W*, b*.
struct ToyRegression {
  ToyRegression() {
    torch::manual_seed(3);
    x = torch::randn({64, 4});
    const torch::Tensor w = torch::tensor({{1.5f}, {-2.0f}, {0.5f}, {1.0f}});
    y = torch::matmul(x, w) + 0.3f;
  }
  torch::Tensor x, y;
};

float Loss(torch::nn::Linear& model, const ToyRegression& data) {
  torch::NoGradGuard no_grad;
  return torch::mse_loss(model->forward(data.x), data.y).item<float>();
}

void Train(torch::nn::Linear& model, MemoryOptimizer& optimizer,
           const ToyRegression& data, int steps) {
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = torch::mse_loss(model->forward(data.x), data.y);
    loss.backward();
    optimizer.step();
    ASSERT_TRUE(optimizer.last_status().ok()) << optimizer.last_status();
  }
}

TEST(ClientTorchTest, TrainsALinearModelAndLowersTheLoss) {
  for (BaseOptimizer base : {BaseOptimizer::kSgd, BaseOptimizer::kAdam}) {
    ScratchDir dir;
    ToyRegression data;
    torch::nn::Linear model(4, 1);
    MemoryOptimizerOptions options = EmbeddedOptions(dir);
    options.base = base;
    absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
        MemoryOptimizer::Create(model->named_parameters().pairs(), options);
    ASSERT_TRUE(optimizer.ok()) << optimizer.status();
    EXPECT_EQ((*optimizer)->groups().size(), 2u);  // weight, bias

    const float before = Loss(model, data);
    Train(model, **optimizer, data, 100);
    const float after = Loss(model, data);
    EXPECT_LT(after, 0.1f * before) << "before " << before;

    // The memory lives on the server, reachable through client().
    absl::StatusOr<v1::MemoryInfo> info =
        (*optimizer)->client().GetMemory("toy");
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->steps(), 100u);
    EXPECT_EQ(info->groups_size(), 2);
  }
}

TEST(ClientTorchTest, PerLayerGroupingSharesOneGroupPerModule) {
  ScratchDir dir;
  ToyRegression data;
  torch::nn::Sequential model(torch::nn::Linear(4, 8), torch::nn::Tanh(),
                              torch::nn::Linear(8, 1));
  MemoryOptimizerOptions options = EmbeddedOptions(dir);
  options.grouping = Grouping::kPerLayer;
  options.statistics_mode = false;
  absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
      MemoryOptimizer::Create(model->named_parameters().pairs(), options);
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  ASSERT_EQ((*optimizer)->groups().size(), 2u);
  EXPECT_EQ((*optimizer)->groups()[0].name, "0");
  EXPECT_EQ((*optimizer)->groups()[0].size, 4u * 8 + 8);
  EXPECT_EQ((*optimizer)->groups()[1].name, "2");

  auto loss = [&] {
    torch::NoGradGuard no_grad;
    return torch::mse_loss(model->forward(data.x), data.y).item<float>();
  };
  const float before = loss();
  for (int step = 0; step < 100; ++step) {
    (*optimizer)->zero_grad();
    torch::mse_loss(model->forward(data.x), data.y).backward();
    (*optimizer)->step();
  }
  EXPECT_LT(loss(), 0.5f * before);
}

TEST(ClientTorchTest, NonFiniteGradientIsSkippedAndCounted) {
  ScratchDir dir;
  torch::nn::Linear model(4, 1);
  absl::StatusOr<std::unique_ptr<MemoryOptimizer>> optimizer =
      MemoryOptimizer::Create(model->named_parameters().pairs(),
                              EmbeddedOptions(dir));
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  const torch::Tensor weight_before = model->weight.detach().clone();

  (*optimizer)->zero_grad();
  model->forward(torch::ones({1, 4})).sum().backward();
  model->weight.mutable_grad()[0][2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NO_THROW((*optimizer)->step());
  EXPECT_EQ((*optimizer)->skipped_steps(), 1);
  EXPECT_TRUE(absl::IsInvalidArgument((*optimizer)->last_status()));
  EXPECT_TRUE(torch::equal(model->weight.detach(), weight_before));
  absl::StatusOr<v1::MemoryInfo> info = (*optimizer)->client().GetMemory("toy");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->steps(), 0u);
}

TEST(ClientTorchTest, CreateReportsBadInput) {
  ScratchDir dir;
  torch::nn::Linear model(4, 1);
  MemoryOptimizerOptions options = EmbeddedOptions(dir);
  options.memory.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(
      MemoryOptimizer::Create(model->named_parameters().pairs(), options)
          .status()));

  options = EmbeddedOptions(dir);
  options.create_if_missing = false;
  EXPECT_TRUE(absl::IsNotFound(
      MemoryOptimizer::Create(model->named_parameters().pairs(), options)
          .status()));

  torch::Tensor doubles = torch::zeros({3}, torch::kFloat64);
  EXPECT_TRUE(absl::IsInvalidArgument(
      MemoryOptimizer::Create({{"d", doubles}}, EmbeddedOptions(dir))
          .status()));

  options = EmbeddedOptions(dir);
  options.embedded_data_dir.clear();
  options.server_address = "127.0.0.1:1";
  options.client.connect_timeout = absl::Milliseconds(300);
  EXPECT_TRUE(absl::IsUnavailable(
      MemoryOptimizer::Create(model->named_parameters().pairs(), options)
          .status()));
}

}  // namespace
}  // namespace lrmem
