// The Prometheus endpoint of a real server: steps, rejections, sessions and
// memories show up with the right values.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_test_util.h"

namespace lrmem::testing {
namespace {

using ::testing::HasSubstr;

constexpr v1::SessionMode kRates = v1::SESSION_MODE_RATES;

// The body of GET /metrics, by hand over a socket.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return "connect failed";
  }
  const std::string request =
      "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    return "write failed";
  }
  std::string response;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  return response;
}

TEST(ServerMetricsTest, CountsStepsRejectionsSessionsAndMemories) {
  TempDir dir;
  LrmemServer::Options options = TestServerOptions(dir.path());
  options.metrics_listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<LrmemServer>> server =
      LrmemServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_NE((*server)->metrics_port(), 0);
  auto stub = Connect((*server)->port());

  TrainStream stream(stub.get());
  stream.Open(OpenRequest("m", "a", {{"w", 2}}, kRates, true, {}));
  for (uint64_t t = 1; t <= 3; ++t) {
    ASSERT_FALSE(stream.Step(StepRequest(t, kRates, {{"w", {0.5f, -0.5f}}}))
                     .has_error());
  }
  EXPECT_TRUE(
      stream.Step(StepRequest(4, kRates, {{"w", {1, 2, 3}}})).has_error());

  const std::string metrics = Scrape((*server)->metrics_port());
  EXPECT_THAT(metrics, HasSubstr("lrmem_steps_total{memory=\"m\"} 3"));
  EXPECT_THAT(
      metrics,
      HasSubstr("lrmem_rejected_steps_total{reason=\"INVALID_ARGUMENT\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("lrmem_active_sessions 1"));
  EXPECT_THAT(metrics, HasSubstr("lrmem_memories 1"));
  EXPECT_THAT(metrics,
              HasSubstr("lrmem_step_seconds_count{phase=\"storage\"} 3"));
  EXPECT_THAT(metrics,
              HasSubstr("lrmem_step_seconds_count{phase=\"compute\"} 3"));
  EXPECT_THAT(metrics, HasSubstr("lrmem_store_write_seconds_count"));
  EXPECT_THAT(metrics, HasSubstr("lrmem_stream_bytes_total{direction=\"in\"}"));
}

// A learner that has left is dropped by the periodic upkeep once it has
// been idle for the timeout, even if nobody opens or closes another session
// on its memory; lrmem_learner_states follows.
TEST(ServerMetricsTest, IdleLearnerStatesAreDroppedWithoutFurtherTraffic) {
  TempDir dir;
  LrmemServer::Options options = TestServerOptions(dir.path());
  options.metrics_listen = "127.0.0.1:0";
  options.registry.memory.learner_idle_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<LrmemServer>> server =
      LrmemServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Connect((*server)->port());
  const auto wait_for = [&](const std::string& line) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (Scrape((*server)->metrics_port()).find(line) != std::string::npos) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  };
  {
    TrainStream stream(stub.get());
    stream.Open(OpenRequest("m", "a", {{"w", 2}}, kRates, true, {}));
    ASSERT_FALSE(stream.Step(StepRequest(1, kRates, {{"w", {0.5f, -0.5f}}}))
                     .has_error());
    // Held while the session is open, whatever the timeout.
    EXPECT_TRUE(wait_for("lrmem_learner_states 1\n"));
    absl::SleepFor(absl::Seconds(1.5));
    EXPECT_THAT(Scrape((*server)->metrics_port()),
                HasSubstr("lrmem_learner_states 1\n"));
    EXPECT_TRUE(stream.Finish().ok());
  }
  EXPECT_TRUE(wait_for("lrmem_active_sessions 0\n"));
  EXPECT_TRUE(wait_for("lrmem_learner_states 0\n"));
}

}  // namespace
}  // namespace lrmem::testing
