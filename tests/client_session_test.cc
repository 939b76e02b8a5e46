// LearnerSession against a real server: both modes give the same rates bit
// for bit, bad steps are refused locally or by the server without breaking
// the session, and a broken stream is resumed without applying a step twice.

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lrmem/learner_session.h"
#include "tests/client_tcp_proxy.h"
#include "tests/client_test_env.h"

namespace lrmem {
namespace {

using ::lrmem::testing::ServerTest;
using ::lrmem::testing::TcpProxy;

MemoryConfig TestConfig() {
  MemoryConfig config;
  config.num_local_models = 11;
  config.clip = 2.0f;
  config.width_scale = 0.5f;
  config.initial_learning_rate = 0.05f;
  config.meta_learning_rate = 0.05f;
  return config;
}

SessionOptions Options(const std::string& memory, SessionMode mode) {
  SessionOptions options;
  options.memory = memory;
  options.learner_id = "learner-1";
  options.groups = {{"conv", 40}, {"fc", 7}};
  options.mode = mode;
  options.create_if_missing = true;
  options.config = TestConfig();
  return options;
}

std::unique_ptr<LearnerSession> OpenOrDie(Client* client,
                                          const SessionOptions& options) {
  absl::StatusOr<std::unique_ptr<LearnerSession>> session =
      LearnerSession::Open(client, options);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *std::move(session) : nullptr;
}

// Signals spread over the clip range, partly correlated with the last step
// so that the memory learns something.
std::vector<float> NextSignal(std::mt19937& rng, const std::vector<float>& last,
                              size_t size) {
  std::normal_distribution<float> noise(0.0f, 0.7f);
  std::vector<float> signal(size);
  for (size_t i = 0; i < size; ++i) {
    const float previous = last.empty() ? 0.0f : last[i];
    signal[i] = 0.6f * previous + noise(rng);
  }
  return signal;
}

uint64_t MemorySteps(Client& client, const std::string& memory) {
  absl::StatusOr<v1::MemoryInfo> info = client.GetMemory(memory);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? info->steps() : 0;
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class ClientSessionTest : public ServerTest {};

TEST_F(ClientSessionTest, RatesAndStatisticsModesGiveIdenticalRates) {
  std::unique_ptr<LearnerSession> rates_session =
      OpenOrDie(client_.get(), Options("by-rates", SessionMode::kRates));
  std::unique_ptr<LearnerSession> stats_session = OpenOrDie(
      client_.get(), Options("by-statistics", SessionMode::kStatistics));
  ASSERT_NE(rates_session, nullptr);
  ASSERT_NE(stats_session, nullptr);

  std::mt19937 rng(7);
  std::vector<float> conv, fc;
  for (int step = 0; step < 25; ++step) {
    conv = NextSignal(rng, conv, 40);
    fc = NextSignal(rng, fc, 7);
    const std::vector<GroupSignal> signals = {{"conv", conv}, {"fc", fc}};
    std::vector<std::vector<float>> by_rates, by_statistics;
    ASSERT_TRUE(rates_session->Step(signals, &by_rates).ok());
    ASSERT_TRUE(stats_session->Step(signals, &by_statistics).ok());
    ASSERT_EQ(by_rates.size(), 2u);
    for (size_t g = 0; g < 2; ++g) {
      ASSERT_TRUE(BitEqual(by_rates[g], by_statistics[g]))
          << "step " << step << " group " << g;
    }
  }

  // The memories learned the same, and learned something.
  absl::StatusOr<v1::MemoryInfo> a = client_->GetMemory("by-rates", true);
  absl::StatusOr<v1::MemoryInfo> b = client_->GetMemory("by-statistics", true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->steps(), 25u);
  ASSERT_EQ(a->groups_size(), b->groups_size());
  bool moved = false;
  for (int g = 0; g < a->groups_size(); ++g) {
    for (int m = 0; m < a->groups(g).values_size(); ++m) {
      EXPECT_EQ(a->groups(g).values(m), b->groups(g).values(m));
      moved |= a->groups(g).values(m) != 0.05f;
    }
  }
  EXPECT_TRUE(moved);
}

TEST_F(ClientSessionTest, PartialStepsAnswerInRequestOrder) {
  std::unique_ptr<LearnerSession> session =
      OpenOrDie(client_.get(), Options("m", SessionMode::kStatistics));
  ASSERT_NE(session, nullptr);
  const std::vector<float> fc(7, 0.1f);
  const std::vector<float> conv(40, -0.2f);
  std::vector<std::vector<float>> rates;
  ASSERT_TRUE(session->Step({{"fc", fc}}, &rates).ok());
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_EQ(rates[0].size(), 7u);
  ASSERT_TRUE(session->Step({{"fc", fc}, {"conv", conv}}, &rates).ok());
  ASSERT_EQ(rates.size(), 2u);
  EXPECT_EQ(rates[1].size(), 40u);
}

TEST_F(ClientSessionTest, NonFiniteSignalIsRefusedLocallyAndNothingIsSent) {
  for (SessionMode mode : {SessionMode::kRates, SessionMode::kStatistics}) {
    const std::string memory =
        mode == SessionMode::kRates ? "nan-rates" : "nan-stats";
    std::unique_ptr<LearnerSession> session =
        OpenOrDie(client_.get(), Options(memory, mode));
    ASSERT_NE(session, nullptr);
    std::vector<float> conv(40, 0.5f), fc(7, 0.5f);
    std::vector<std::vector<float>> rates;
    ASSERT_TRUE(session->Step({{"conv", conv}, {"fc", fc}}, &rates).ok());
    const uint64_t sequence = session->next_sequence();

    fc[3] = std::numeric_limits<float>::quiet_NaN();
    absl::Status status = session->Step({{"conv", conv}, {"fc", fc}}, &rates);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_NE(status.message().find("'fc'"), absl::string_view::npos);
    EXPECT_NE(status.message().find("NaN"), absl::string_view::npos);
    EXPECT_EQ(session->next_sequence(), sequence);
    EXPECT_EQ(MemorySteps(*client_, memory), 1u);

    fc[3] = 0.5f;
    EXPECT_TRUE(session->Step({{"conv", conv}, {"fc", fc}}, &rates).ok());
    EXPECT_EQ(MemorySteps(*client_, memory), 2u);
  }
}

TEST_F(ClientSessionTest, MalformedStepsAreRefusedLocally) {
  std::unique_ptr<LearnerSession> session =
      OpenOrDie(client_.get(), Options("m", SessionMode::kRates));
  ASSERT_NE(session, nullptr);
  const std::vector<float> short_conv(39, 0.1f), fc(7, 0.1f);
  std::vector<std::vector<float>> rates;
  EXPECT_TRUE(
      absl::IsInvalidArgument(session->Step({{"conv", short_conv}}, &rates)));
  EXPECT_TRUE(absl::IsInvalidArgument(session->Step({{"other", fc}}, &rates)));
  EXPECT_TRUE(
      absl::IsInvalidArgument(session->Step({{"fc", fc}, {"fc", fc}}, &rates)));
  EXPECT_TRUE(session->Step({{"fc", fc}}, &rates).ok());
}

TEST_F(ClientSessionTest, OpenErrorsComeBackWithTheServersCode) {
  SessionOptions options = Options("absent", SessionMode::kRates);
  options.create_if_missing = false;
  EXPECT_TRUE(
      absl::IsNotFound(LearnerSession::Open(client_.get(), options).status()));

  options.create_if_missing = true;
  options.config.num_local_models = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(
      LearnerSession::Open(client_.get(), options).status()));

  options = Options("m", SessionMode::kRates);
  options.groups.push_back({"fc", 3});
  EXPECT_TRUE(absl::IsInvalidArgument(
      LearnerSession::Open(client_.get(), options).status()));
}

TEST_F(ClientSessionTest, ServerStepErrorKeepsTheSessionOpen) {
  // Two streams under one learner id: the lagging one sends a step number
  // the memory has already passed, which the server rejects.
  const SessionOptions options = Options("shared", SessionMode::kRates);
  std::unique_ptr<LearnerSession> lagging = OpenOrDie(client_.get(), options);
  std::unique_ptr<LearnerSession> leading = OpenOrDie(client_.get(), options);
  ASSERT_NE(lagging, nullptr);
  ASSERT_NE(leading, nullptr);
  const std::vector<float> fc(7, 0.3f);
  std::vector<std::vector<float>> rates;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(leading->Step({{"fc", fc}}, &rates).ok());
  }

  absl::Status status = lagging->Step({{"fc", fc}}, &rates);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find("learner-1"), absl::string_view::npos)
      << status;
  EXPECT_EQ(MemorySteps(*client_, "shared"), 3u);
}

TEST_F(ClientSessionTest, DeletedMemoryEndsTheSession) {
  std::unique_ptr<LearnerSession> session =
      OpenOrDie(client_.get(), Options("doomed", SessionMode::kStatistics));
  ASSERT_NE(session, nullptr);
  const std::vector<float> fc(7, 0.3f);
  std::vector<std::vector<float>> rates;
  ASSERT_TRUE(session->Step({{"fc", fc}}, &rates).ok());
  ASSERT_TRUE(client_->DeleteMemory("doomed").ok());
  absl::Status status = session->Step({{"fc", fc}}, &rates);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_TRUE(absl::IsNotFound(session->Step({{"fc", fc}}, &rates)));
}

TEST_F(ClientSessionTest, NewSessionContinuesAfterTheLearnersLastStep) {
  const SessionOptions options = Options("m", SessionMode::kRates);
  const std::vector<float> fc(7, 0.3f);
  std::vector<std::vector<float>> rates;
  {
    std::unique_ptr<LearnerSession> first = OpenOrDie(client_.get(), options);
    ASSERT_NE(first, nullptr);
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE(first->Step({{"fc", fc}}, &rates).ok());
  }
  std::unique_ptr<LearnerSession> second = OpenOrDie(client_.get(), options);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->next_sequence(), 5u);
  ASSERT_TRUE(second->Step({{"fc", fc}}, &rates).ok());
  EXPECT_EQ(MemorySteps(*client_, "m"), 5u);
}

// The stream breaks after the server applied a step but before its answer
// arrived: the session reconnects, resends the step under the same number,
// and the server answers it without applying it again.
TEST_F(ClientSessionTest, ResentStepAfterBrokenStreamIsNotAppliedTwice) {
  for (SessionMode mode : {SessionMode::kRates, SessionMode::kStatistics}) {
    const std::string memory =
        mode == SessionMode::kRates ? "resend-rates" : "resend-stats";
    TcpProxy proxy(server_->port());
    Client proxied("127.0.0.1:" + std::to_string(proxy.port()));
    std::unique_ptr<LearnerSession> session =
        OpenOrDie(&proxied, Options(memory, mode));
    ASSERT_NE(session, nullptr);
    std::vector<float> fc(7, 0.4f);
    std::vector<std::vector<float>> rates;
    ASSERT_TRUE(session->Step({{"fc", fc}}, &rates).ok());

    // Step 2 reaches the server; its answer does not reach us.
    proxy.HoldReplies();
    fc.assign(7, 0.35f);
    absl::Status status;
    std::thread step([&] { status = session->Step({{"fc", fc}}, &rates); });
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (MemorySteps(*client_, memory) < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(MemorySteps(*client_, memory), 2u);
    proxy.CutAll();
    step.join();

    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(session->reconnects(), 1);
    EXPECT_EQ(session->memory_steps(), 2u);
    EXPECT_EQ(MemorySteps(*client_, memory), 2u);
    ASSERT_EQ(rates.size(), 1u);
    EXPECT_EQ(rates[0].size(), 7u);

    ASSERT_TRUE(session->Step({{"fc", fc}}, &rates).ok());
    EXPECT_EQ(MemorySteps(*client_, memory), 3u);
  }
}

// The server restarts between two steps: the next step reconnects once and
// goes through.
TEST_F(ClientSessionTest, StepAfterServerRestartReconnects) {
  std::unique_ptr<LearnerSession> session =
      OpenOrDie(client_.get(), Options("m", SessionMode::kStatistics));
  ASSERT_NE(session, nullptr);
  const std::vector<float> fc(7, 0.4f);
  std::vector<std::vector<float>> rates;
  ASSERT_TRUE(session->Step({{"fc", fc}}, &rates).ok());

  const int port = server_->port();
  StopServer();
  StartServer(port);
  ASSERT_TRUE(session->Step({{"fc", fc}}, &rates).ok());
  EXPECT_EQ(session->reconnects(), 1);
  EXPECT_EQ(MemorySteps(*client_, "m"), 2u);
}

}  // namespace
}  // namespace lrmem
