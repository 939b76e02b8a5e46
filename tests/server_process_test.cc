// The real lrmem-server binary as a child process: acknowledged steps
// survive SIGKILL, and SIGTERM shuts down gracefully with exit code 0.

#include <signal.h>
#include <sys/wait.h>

#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_test_util.h"

namespace lrmem::testing {
namespace {

using ::testing::HasSubstr;

constexpr v1::SessionMode kStatistics = v1::SESSION_MODE_STATISTICS;
constexpr v1::SessionMode kRates = v1::SESSION_MODE_RATES;

std::vector<float> Statistic(std::mt19937* rng) {
  std::uniform_real_distribution<float> uniform(-0.3f, 0.5f);
  std::vector<float> statistic(21);
  for (float& s : statistic) s = uniform(*rng);
  return statistic;
}

v1::MemoryInfo GetMemory(v1::LearningRateMemory::Stub* stub,
                         const std::string& name) {
  grpc::ClientContext context;
  v1::GetMemoryRequest request;
  request.set_name(name);
  request.set_include_values(true);
  v1::MemoryInfo info;
  grpc::Status status = stub->GetMemory(&context, request, &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return info;
}

TEST(ServerProcessTest, SigkillKeepsTheLastAcknowledgedStep) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::vector<float> acknowledged;
  std::vector<float> last_statistic;
  constexpr uint64_t kSteps = 40;
  {
    ServerProcess server(data);
    ASSERT_NE(server.port(), 0);
    EXPECT_EQ(HealthStatus(server.port()), "SERVING");
    auto stub = Connect(server.port());
    TrainStream stream(stub.get());
    stream.Open(
        OpenRequest("durable", "a", {{"w", 100}}, kStatistics, true, {}));
    std::mt19937 rng(1);
    for (uint64_t t = 1; t <= kSteps; ++t) {
      last_statistic = Statistic(&rng);
      v1::StepResult result =
          stream.Step(StepRequest(t, kStatistics, {{"w", last_statistic}}));
      ASSERT_FALSE(result.has_error()) << result.error().message();
      acknowledged = Floats(result.groups(0).values());
    }
    // No goodbye: the process dies right after the last answer.
    const int status = server.SignalAndWait(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status));
  }

  ServerProcess server(data);
  ASSERT_NE(server.port(), 0);
  EXPECT_THAT(server.Log(), HasSubstr("recovered 1 memories"));
  auto stub = Connect(server.port());
  v1::MemoryInfo info = GetMemory(stub.get(), "durable");
  EXPECT_EQ(info.steps(), kSteps);
  ASSERT_EQ(info.groups_size(), 1);
  EXPECT_TRUE(
      BitEqual({info.groups(0).values().begin(), info.groups(0).values().end()},
               acknowledged));
  EXPECT_NE(acknowledged,
            std::vector<float>(21, info.config().initial_learning_rate()));

  // The learner resends its last step after the crash: answered, not
  // applied again.
  TrainStream stream(stub.get());
  v1::SessionOpened opened =
      stream.Open(OpenRequest("durable", "a", {{"w", 100}}, kStatistics));
  EXPECT_EQ(opened.last_sequence(), kSteps);
  v1::StepResult again =
      stream.Step(StepRequest(kSteps, kStatistics, {{"w", last_statistic}}));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.memory_steps(), kSteps);
  EXPECT_TRUE(BitEqual(Floats(again.groups(0).values()), acknowledged));
  EXPECT_EQ(GetMemory(stub.get(), "durable").steps(), kSteps);
}

TEST(ServerProcessTest, SigtermEndsStreamsAndExitsZero) {
  TempDir dir;
  ServerProcess server(dir.path() + "/data",
                       {"--shutdown_grace_period_ms=3000", "--sync_writes"});
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(HealthStatus(server.port()), "SERVING");
  auto stub = Connect(server.port());
  TrainStream stream(stub.get());
  stream.Open(OpenRequest("m", "a", {{"w", 3}}, kRates, true, {}));
  ASSERT_FALSE(stream.Step(StepRequest(1, kRates, {{"w", {0.1f, 0.2f, 0.3f}}}))
                   .has_error());

  std::thread terminate([&] {
    const int status = server.SignalAndWait(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  });
  grpc::Status status = stream.AwaitEnd();
  terminate.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_THAT(server.Log(), HasSubstr("shut down"));
}

}  // namespace
}  // namespace lrmem::testing
