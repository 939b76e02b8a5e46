// The training stream against a real server on localhost with a real
// RocksDB: rates computed by the server equal the same computation done
// locally with common/, both modes agree, shared memories lose no step,
// resent steps are not applied twice, and bad input is rejected precisely.

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "common/config_proto.h"
#include "common/local_models.h"
#include "common/memory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_test_util.h"

namespace lrmem::testing {
namespace {

using ::testing::HasSubstr;

constexpr v1::SessionMode kRates = v1::SESSION_MODE_RATES;
constexpr v1::SessionMode kStatistics = v1::SESSION_MODE_STATISTICS;

// A config whose values move visibly within a few steps.
v1::MemoryConfig FastConfig() {
  v1::MemoryConfig config;
  config.set_num_local_models(11);
  config.set_center_layout(v1::CENTER_LAYOUT_EVEN);
  config.set_width_scale(0.5f);
  config.set_meta_learning_rate(0.05f);
  config.set_initial_learning_rate(0.01f);
  return config;
}

std::vector<float> RandomSignal(std::mt19937* rng, size_t size) {
  std::normal_distribution<float> normal(0.0f, 0.7f);
  std::vector<float> signal(size);
  for (float& z : signal) z = normal(*rng);
  return signal;
}

class TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(TestServerOptions(dir_.path())); }

  void StartServer(const LrmemServer::Options& options) {
    server_.reset();
    absl::StatusOr<std::unique_ptr<LrmemServer>> server =
        LrmemServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = Connect(server_->port());
  }

  void CreateMemory(const std::string& name,
                    const v1::MemoryConfig& config = FastConfig()) {
    grpc::ClientContext context;
    v1::CreateMemoryRequest request;
    request.set_name(name);
    *request.mutable_config() = config;
    v1::MemoryInfo info;
    grpc::Status status = stub_->CreateMemory(&context, request, &info);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  v1::MemoryInfo GetMemory(const std::string& name) {
    grpc::ClientContext context;
    v1::GetMemoryRequest request;
    request.set_name(name);
    request.set_include_values(true);
    v1::MemoryInfo info;
    grpc::Status status = stub_->GetMemory(&context, request, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  TempDir dir_;
  std::unique_ptr<LrmemServer> server_;
  std::unique_ptr<v1::LearningRateMemory::Stub> stub_;
};

TEST_F(TrainingTest, RatesModeMatchesTheSameComputationDoneLocally) {
  CreateMemory("m");
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "learner", {{"w", 40}, {"b", 3}}, kRates));

  // The reference: the memory math of common/, driven step by step.
  absl::StatusOr<MemoryConfig> config = ConfigFromProto(FastConfig());
  ASSERT_TRUE(config.ok());
  absl::StatusOr<Memory> reference = Memory::Create(*config);
  ASSERT_TRUE(reference.ok());
  const LocalModels& models = reference->models();
  std::map<std::string, std::vector<float>> previous;

  std::mt19937 rng(7);
  for (uint64_t t = 1; t <= 20; ++t) {
    std::vector<float> w = RandomSignal(&rng, 40);
    std::vector<float> b = RandomSignal(&rng, 3);
    v1::StepResult result =
        stream.Step(StepRequest(t, kRates, {{"w", w}, {"b", b}}));
    ASSERT_FALSE(result.has_error()) << result.error().message();
    EXPECT_EQ(result.memory_steps(), t);
    ASSERT_EQ(result.groups_size(), 2);

    for (const auto& [name, signal] :
         std::vector<std::pair<std::string, std::vector<float>>>{{"w", w},
                                                                 {"b", b}}) {
      MemoryGroup& group = reference->GroupOrNew(name);
      if (previous.count(name)) {
        std::vector<float> statistic(models.size());
        models.ComputeStatistic(previous[name], signal,
                                absl::MakeSpan(statistic));
        ASSERT_TRUE(group.ApplyStatistic(*config, statistic).ok());
      }
      previous[name] = signal;
      std::vector<float> expected(signal.size());
      models.PredictRates(group.values(), signal, absl::MakeSpan(expected));
      const v1::GroupResult& got = result.groups(0).group() == name
                                       ? result.groups(0)
                                       : result.groups(1);
      EXPECT_TRUE(BitEqual(Floats(got.learning_rates()), expected))
          << "group " << name << " step " << t;
    }
  }
  // The values did move away from where they started.
  const std::vector<float> values(reference->FindGroup("w")->values().begin(),
                                  reference->FindGroup("w")->values().end());
  EXPECT_NE(values, std::vector<float>(values.size(), 0.01f));
  v1::MemoryInfo info = GetMemory("m");
  EXPECT_EQ(info.steps(), 20u);
  ASSERT_EQ(info.groups_size(), 2);
  EXPECT_EQ(info.groups(1).name(), "w");
  EXPECT_TRUE(
      BitEqual({info.groups(1).values().begin(), info.groups(1).values().end()},
               values));
}

// Both evaluations of common/ take part: "w" is small enough to be
// evaluated exactly, "big" large enough for the grid.
TEST_F(TrainingTest, StatisticsModeGivesTheSameRatesAsRatesMode) {
  const std::vector<std::pair<std::string, size_t>> groups = {{"w", 64},
                                                              {"big", 8192}};
  CreateMemory("by-rates");
  CreateMemory("by-statistics");
  TrainStream rates_stream(stub_.get());
  rates_stream.Open(OpenRequest("by-rates", "a", groups, kRates));
  TrainStream stats_stream(stub_.get());
  v1::SessionOpened opened =
      stats_stream.Open(OpenRequest("by-statistics", "a", groups, kStatistics));

  // The client side of statistics mode, done here with common/.
  absl::StatusOr<MemoryConfig> config = ConfigFromProto(opened.config());
  ASSERT_TRUE(config.ok());
  absl::StatusOr<std::shared_ptr<const LocalModels>> models =
      LocalModels::Create(*config);
  ASSERT_TRUE(models.ok());
  ASSERT_EQ((*models)->size(), opened.centers_size());
  ASSERT_FALSE((*models)->UsesGrid(64));
  ASSERT_TRUE((*models)->UsesGrid(8192));

  std::mt19937 rng(11);
  std::map<std::string, std::vector<float>> previous;
  for (uint64_t t = 1; t <= 30; ++t) {
    std::vector<std::pair<std::string, std::vector<float>>> signals, statistics;
    for (const auto& [name, size] : groups) {
      std::vector<float> signal = RandomSignal(&rng, size);
      std::vector<float> statistic;
      if (previous.count(name)) {
        statistic.resize((*models)->size());
        (*models)->ComputeStatistic(previous[name], signal,
                                    absl::MakeSpan(statistic));
      }
      previous[name] = signal;
      signals.emplace_back(name, std::move(signal));
      statistics.emplace_back(name, std::move(statistic));
    }
    v1::StepResult by_rates =
        rates_stream.Step(StepRequest(t, kRates, signals));
    ASSERT_FALSE(by_rates.has_error()) << by_rates.error().message();
    v1::StepResult by_stats =
        stats_stream.Step(StepRequest(t, kStatistics, statistics));
    ASSERT_FALSE(by_stats.has_error()) << by_stats.error().message();
    ASSERT_EQ(by_rates.groups_size(), 2);
    ASSERT_EQ(by_stats.groups_size(), 2);

    for (int g = 0; g < 2; ++g) {
      ASSERT_EQ(by_stats.groups(g).group(), by_rates.groups(g).group());
      const std::vector<float>& signal = previous[by_stats.groups(g).group()];
      std::vector<float> rates(signal.size());
      (*models)->PredictRates(Floats(by_stats.groups(g).values()), signal,
                              absl::MakeSpan(rates));
      EXPECT_TRUE(BitEqual(rates, Floats(by_rates.groups(g).learning_rates())))
          << "group " << by_stats.groups(g).group() << " step " << t;
    }
  }
  const v1::MemoryInfo by_rates = GetMemory("by-rates");
  const v1::MemoryInfo by_stats = GetMemory("by-statistics");
  EXPECT_EQ(by_rates.steps(), 30u);
  EXPECT_EQ(by_stats.steps(), 30u);
  ASSERT_EQ(by_rates.groups_size(), 2);
  ASSERT_EQ(by_stats.groups_size(), 2);
  for (int g = 0; g < 2; ++g) {
    EXPECT_TRUE(BitEqual({by_rates.groups(g).values().begin(),
                          by_rates.groups(g).values().end()},
                         {by_stats.groups(g).values().begin(),
                          by_stats.groups(g).values().end()}));
  }
}

TEST_F(TrainingTest, EightLearnersSharingAMemoryLoseNoStep) {
  CreateMemory("shared");
  constexpr int kLearners = 8;
  constexpr int kSteps = 1000;
  std::vector<std::thread> learners;
  std::atomic<int> failures{0};
  for (int l = 0; l < kLearners; ++l) {
    learners.emplace_back([&, l] {
      TrainStream stream(stub_.get());
      stream.Open(OpenRequest("shared", "learner-" + std::to_string(l),
                              {{"w", 16}}, kRates));
      std::mt19937 rng(100 + l);
      for (uint64_t t = 1; t <= kSteps; ++t) {
        v1::StepResult result = stream.Step(
            StepRequest(t, kRates, {{"w", RandomSignal(&rng, 16)}}));
        if (result.has_error() || result.sequence() != t) ++failures;
      }
      if (!stream.Finish().ok()) ++failures;
    });
  }
  for (std::thread& learner : learners) learner.join();
  EXPECT_EQ(failures.load(), 0);
  v1::MemoryInfo info = GetMemory("shared");
  EXPECT_EQ(info.steps(), uint64_t{kLearners * kSteps});
  ASSERT_EQ(info.groups_size(), 1);
  // Every step after each learner's first carried a statistic.
  EXPECT_EQ(info.groups(0).updates(), uint64_t{kLearners * (kSteps - 1)});
}

TEST_F(TrainingTest, ResentStepIsAnsweredAgainNotAppliedTwice) {
  CreateMemory("m");
  std::mt19937 rng(3);
  const std::vector<float> first = RandomSignal(&rng, 8);
  const std::vector<float> second = RandomSignal(&rng, 8);
  v1::StepResult original;
  {
    TrainStream stream(stub_.get());
    stream.Open(OpenRequest("m", "a", {{"w", 8}}, kRates));
    ASSERT_FALSE(
        stream.Step(StepRequest(1, kRates, {{"w", first}})).has_error());
    original = stream.Step(StepRequest(2, kRates, {{"w", second}}));
    ASSERT_FALSE(original.has_error());
    EXPECT_FALSE(original.replayed());

    v1::StepResult again = stream.Step(StepRequest(2, kRates, {{"w", second}}));
    EXPECT_TRUE(again.replayed());
    EXPECT_EQ(again.memory_steps(), 2u);
    EXPECT_EQ(again.groups(0).learning_rates(),
              original.groups(0).learning_rates());
    EXPECT_TRUE(again.groups(0).values().empty());
  }

  // As after a broken connection: a new stream, the same learner.
  TrainStream stream(stub_.get());
  v1::SessionOpened opened =
      stream.Open(OpenRequest("m", "a", {{"w", 8}}, kRates));
  EXPECT_EQ(opened.last_sequence(), 2u);
  v1::StepResult again = stream.Step(StepRequest(2, kRates, {{"w", second}}));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.groups(0).learning_rates(),
            original.groups(0).learning_rates());
  EXPECT_EQ(GetMemory("m").steps(), 2u);
  EXPECT_EQ(GetMemory("m").groups(0).updates(), 1u);

  v1::StepResult stale = stream.Step(StepRequest(1, kRates, {{"w", first}}));
  EXPECT_EQ(stale.error().code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(stale.error().message(), HasSubstr("last applied step 2"));

  v1::StepResult next = stream.Step(StepRequest(5, kRates, {{"w", first}}));
  EXPECT_FALSE(next.has_error());
  EXPECT_EQ(next.memory_steps(), 3u);
  EXPECT_EQ(GetMemory("m").groups(0).updates(), 2u);
}

TEST_F(TrainingTest, ResentStatisticsStepIsAnsweredWithTheSameValues) {
  CreateMemory("m");
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "a", {{"w", 8}}, kStatistics));
  std::vector<float> statistic(11, 0.0f);
  statistic[5] = 0.25f;
  const v1::StepResult original =
      stream.Step(StepRequest(1, kStatistics, {{"w", statistic}}));
  ASSERT_FALSE(original.has_error()) << original.error().message();
  const v1::StepResult again =
      stream.Step(StepRequest(1, kStatistics, {{"w", statistic}}));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.groups(0).values(), original.groups(0).values());
  EXPECT_TRUE(again.groups(0).learning_rates().empty());
  EXPECT_EQ(GetMemory("m").groups(0).updates(), 1u);
}

// A resent step is answered in the shape of the session that resends it:
// the kept answer of a rates-mode session does not serve a statistics-mode
// one with the same learner id.
TEST_F(TrainingTest, ResentStepInAnotherModeGetsThatModesAnswer) {
  CreateMemory("m");
  {
    TrainStream rates(stub_.get());
    rates.Open(OpenRequest("m", "a", {{"w", 8}}, kRates));
    std::mt19937 rng(5);
    for (uint64_t t = 1; t <= 2; ++t) {
      ASSERT_FALSE(
          rates.Step(StepRequest(t, kRates, {{"w", RandomSignal(&rng, 8)}}))
              .has_error());
    }
  }
  TrainStream stats(stub_.get());
  stats.Open(OpenRequest("m", "a", {{"w", 8}}, kStatistics));
  const v1::StepResult again =
      stats.Step(StepRequest(2, kStatistics, {{"w", {}}}));
  ASSERT_FALSE(again.has_error()) << again.error().message();
  EXPECT_TRUE(again.replayed());
  EXPECT_TRUE(again.groups(0).learning_rates().empty());
  const v1::MemoryInfo info = GetMemory("m");
  EXPECT_EQ(Floats(again.groups(0).values()),
            std::vector<float>(info.groups(0).values().begin(),
                               info.groups(0).values().end()));
  EXPECT_EQ(GetMemory("m").steps(), 2u);
}

// A statistics-mode learner computes its statistics against the local
// models it got at open. When a restore replaces the memory with one of
// another config, its stream ends with a status saying so.
TEST_F(TrainingTest, StatisticsSessionEndsWhenTheConfigIsReplaced) {
  v1::MemoryConfig other = FastConfig();
  other.set_num_local_models(9);
  CreateMemory("m");
  CreateMemory("other", other);
  {
    grpc::ClientContext context;
    v1::CreateSnapshotRequest request;
    request.set_memory("other");
    request.set_snapshot("other-snap");
    v1::SnapshotInfo info;
    ASSERT_TRUE(stub_->CreateSnapshot(&context, request, &info).ok());
  }
  TrainStream stats(stub_.get());
  stats.Open(OpenRequest("m", "s", {{"w", 4}}, kStatistics));
  ASSERT_FALSE(
      stats.Step(StepRequest(1, kStatistics, {{"w", {}}})).has_error());
  {
    grpc::ClientContext context;
    v1::RestoreSnapshotRequest request;
    request.set_snapshot("other-snap");
    request.set_memory("m");
    request.set_overwrite(true);
    v1::MemoryInfo info;
    ASSERT_TRUE(stub_->RestoreSnapshot(&context, request, &info).ok());
  }
  v1::TrainResponse response;
  EXPECT_FALSE(
      stats.Exchange(StepRequest(2, kStatistics, {{"w", {}}}), &response));
  const grpc::Status status = stats.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(status.error_message(), HasSubstr("different config"));
}

TEST_F(TrainingTest, RestoredSnapshotGivesBitIdenticalRates) {
  CreateMemory("original");
  std::mt19937 rng(5);
  {
    TrainStream stream(stub_.get());
    stream.Open(OpenRequest("original", "a", {{"w", 32}}, kRates));
    for (uint64_t t = 1; t <= 15; ++t) {
      ASSERT_FALSE(
          stream.Step(StepRequest(t, kRates, {{"w", RandomSignal(&rng, 32)}}))
              .has_error());
    }
  }
  {
    grpc::ClientContext context;
    v1::CreateSnapshotRequest request;
    request.set_memory("original");
    request.set_snapshot("snap");
    v1::SnapshotInfo info;
    ASSERT_TRUE(stub_->CreateSnapshot(&context, request, &info).ok());
    EXPECT_EQ(info.source_steps(), 15u);
  }
  {
    grpc::ClientContext context;
    v1::RestoreSnapshotRequest request;
    request.set_snapshot("snap");
    request.set_memory("restored");
    v1::MemoryInfo info;
    ASSERT_TRUE(stub_->RestoreSnapshot(&context, request, &info).ok());
    EXPECT_EQ(info.steps(), 15u);
  }

  // The same two gradients into both (the second one also updates them).
  TrainStream a(stub_.get());
  a.Open(OpenRequest("original", "b", {{"w", 32}}, kRates));
  TrainStream b(stub_.get());
  b.Open(OpenRequest("restored", "b", {{"w", 32}}, kRates));
  for (uint64_t t = 1; t <= 2; ++t) {
    const std::vector<float> signal = RandomSignal(&rng, 32);
    v1::StepResult from_a = a.Step(StepRequest(t, kRates, {{"w", signal}}));
    v1::StepResult from_b = b.Step(StepRequest(t, kRates, {{"w", signal}}));
    ASSERT_FALSE(from_a.has_error() || from_b.has_error());
    EXPECT_EQ(from_a.groups(0).learning_rates(),
              from_b.groups(0).learning_rates());
    // Not trivially equal: learned rates differ from the initial one.
    EXPECT_NE(Floats(from_a.groups(0).learning_rates()),
              std::vector<float>(32, 0.01f));
  }
}

// Bad steps come back as step errors, change nothing, and leave the stream
// usable.
class BadStepTest : public TrainingTest {
 protected:
  void SetUp() override {
    LrmemServer::Options options = TestServerOptions(dir_.path());
    options.session.max_values_per_message = 1000;
    options.session.max_groups_per_session = 4;
    options.max_message_bytes = 1 << 20;
    StartServer(options);
    CreateMemory("m");
    rates_ = std::make_unique<TrainStream>(stub_.get());
    rates_->Open(OpenRequest("m", "r", {{"w", 4}, {"big", 2000}}, kRates));
    ASSERT_FALSE(rates_->Step(StepRequest(1, kRates, {{"w", {1, 2, 3, 4}}}))
                     .has_error());
    before_ = GetMemory("m");
  }

  void ExpectRejected(TrainStream* stream, const v1::TrainRequest& request,
                      grpc::StatusCode code,
                      const std::vector<std::string>& fragments) {
    v1::StepResult result = stream->Step(request);
    EXPECT_EQ(result.error().code(), code) << result.error().message();
    for (const std::string& fragment : fragments) {
      EXPECT_THAT(result.error().message(), HasSubstr(fragment));
    }
    EXPECT_EQ(result.groups_size(), 0);
    // Nothing of it was applied.
    v1::MemoryInfo after = GetMemory("m");
    EXPECT_EQ(after.steps(), before_.steps());
    after.clear_active_sessions();
    v1::MemoryInfo before = before_;
    before.clear_active_sessions();
    EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  }

  void ExpectStillUsable() {
    v1::StepResult result =
        rates_->Step(StepRequest(2, kRates, {{"w", {0.5f, 1, 1, 1}}}));
    EXPECT_FALSE(result.has_error()) << result.error().message();
    EXPECT_EQ(result.memory_steps(), before_.steps() + 1);
  }

  std::unique_ptr<TrainStream> rates_;
  v1::MemoryInfo before_;
};

TEST_F(BadStepTest, NanNamesGroupAndIndex) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  v1::TrainRequest request = StepRequest(2, kRates, {{"w", {1, 2, nan, 4}}});
  ExpectRejected(rates_.get(), request, grpc::StatusCode::INVALID_ARGUMENT,
                 {"group 'w'", "index 2", "NaN"});
  ExpectStillUsable();
}

TEST_F(BadStepTest, NanInOneGroupRejectsTheOtherGroupsToo) {
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "two", {{"a", 2}, {"b", 2}}, kRates));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // The good group comes first; it must not be applied either.
  ExpectRejected(&stream,
                 StepRequest(1, kRates, {{"a", {1, 1}}, {"b", {nan, 1}}}),
                 grpc::StatusCode::INVALID_ARGUMENT, {"group 'b'", "index 0"});
}

TEST_F(BadStepTest, TooManyValuesNamesTheLimit) {
  ExpectRejected(
      rates_.get(),
      StepRequest(2, kRates,
                  {{"w", {1, 1, 1, 1}}, {"big", std::vector<float>(2000, 0)}}),
      grpc::StatusCode::RESOURCE_EXHAUSTED, {"2004", "1000"});
  ExpectStillUsable();
}

// By default the value limit leaves room for the answer: a step that fits
// in a message but whose answer would not is refused before it is applied,
// instead of being applied and never answered.
TEST_F(TrainingTest, DefaultValueLimitLeavesRoomForTheAnswer) {
  LrmemServer::Options options = TestServerOptions(dir_.path());
  options.max_message_bytes = 1 << 20;
  options.session.max_values_per_message = 0;
  options.session.max_groups_per_session = 4;
  StartServer(options);
  // 4 groups of 256-byte names and framing leave (2^20 - 5248) / 4 values.
  const size_t fit = ((1 << 20) - (4 * (256 + 32) + 4096)) / 4;
  CreateMemory("m");
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "a", {{"w", fit + 1}, {"v", fit}}, kRates));
  v1::StepResult refused = stream.Step(
      StepRequest(1, kRates, {{"w", std::vector<float>(fit + 1, 0.5f)}}));
  EXPECT_EQ(refused.error().code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error().message(), HasSubstr(std::to_string(fit)));
  EXPECT_EQ(GetMemory("m").steps(), 0u);
  v1::StepResult answered = stream.Step(
      StepRequest(1, kRates, {{"v", std::vector<float>(fit, 0.5f)}}));
  ASSERT_FALSE(answered.has_error()) << answered.error().message();
  EXPECT_EQ(Floats(answered.groups(0).learning_rates()).size(), fit);

  // A limit that leaves no room is refused at start.
  options.session.max_values_per_message = (1 << 20) / 4;
  EXPECT_EQ(LrmemServer::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TrainingTest, StepsBeyondTheGroupLimitOfAMemoryAreRefused) {
  LrmemServer::Options options = TestServerOptions(dir_.path());
  options.registry.memory.max_groups = 2;
  StartServer(options);
  CreateMemory("m");
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "a", {{"a", 1}, {"b", 1}, {"c", 1}}, kRates));
  ASSERT_FALSE(stream.Step(StepRequest(1, kRates, {{"a", {1}}, {"b", {1}}}))
                   .has_error());
  const v1::StepResult refused =
      stream.Step(StepRequest(2, kRates, {{"a", {1}}, {"c", {1}}}));
  EXPECT_EQ(refused.error().code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error().message(), HasSubstr("2 groups per memory"));
  EXPECT_EQ(GetMemory("m").groups_size(), 2);
  EXPECT_EQ(GetMemory("m").steps(), 1u);
  // Groups it already has still step.
  EXPECT_FALSE(stream.Step(StepRequest(2, kRates, {{"a", {1}}, {"b", {-1}}}))
                   .has_error());
}

TEST_F(BadStepTest, TooManyGroupsEndTheSession) {
  TrainStream stream(stub_.get());
  v1::TrainResponse response;
  EXPECT_FALSE(stream.Exchange(
      OpenRequest("m", "many",
                  {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}}, kRates),
      &response));
  grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("limit is 4"));
}

TEST_F(BadStepTest, InfinityNamesGroupAndIndex) {
  const float inf = std::numeric_limits<float>::infinity();
  ExpectRejected(rates_.get(), StepRequest(2, kRates, {{"w", {1, 2, 3, -inf}}}),
                 grpc::StatusCode::INVALID_ARGUMENT, {"group 'w'", "index 3"});
  ExpectStillUsable();
}

TEST_F(BadStepTest, WrongSizeNamesBothSizes) {
  ExpectRejected(rates_.get(), StepRequest(2, kRates, {{"w", {1, 2, 3, 4, 5}}}),
                 grpc::StatusCode::INVALID_ARGUMENT, {"'w'", "5", "4"});
  v1::TrainRequest ragged = StepRequest(2, kRates, {{"w", {1, 2, 3, 4}}});
  ragged.mutable_step()
      ->mutable_groups(0)
      ->mutable_gradient_signal()
      ->pop_back();
  ExpectRejected(rates_.get(), ragged, grpc::StatusCode::INVALID_ARGUMENT,
                 {"'w'"});
  ExpectStillUsable();
}

TEST_F(BadStepTest, UndeclaredAndRepeatedGroups) {
  ExpectRejected(rates_.get(), StepRequest(2, kRates, {{"other", {1}}}),
                 grpc::StatusCode::INVALID_ARGUMENT, {"'other'", "declared"});
  ExpectRejected(
      rates_.get(),
      StepRequest(2, kRates, {{"w", {1, 1, 1, 1}}, {"w", {1, 1, 1, 1}}}),
      grpc::StatusCode::INVALID_ARGUMENT, {"'w'", "twice"});
  ExpectRejected(rates_.get(), StepRequest(0, kRates, {{"w", {1, 1, 1, 1}}}),
                 grpc::StatusCode::INVALID_ARGUMENT, {"start at 1"});
  ExpectStillUsable();
}

TEST_F(BadStepTest, StatisticOfWrongLengthOrNotFinite) {
  TrainStream stats(stub_.get());
  stats.Open(OpenRequest("m", "s", {{"w", 4}}, kStatistics));
  ExpectRejected(
      &stats, StepRequest(1, kStatistics, {{"w", std::vector<float>(10)}}),
      grpc::StatusCode::INVALID_ARGUMENT, {"'w'", "statistic", "10", "11"});
  std::vector<float> statistic(11, 0.1f);
  statistic[7] = std::numeric_limits<float>::quiet_NaN();
  ExpectRejected(&stats, StepRequest(1, kStatistics, {{"w", statistic}}),
                 grpc::StatusCode::INVALID_ARGUMENT, {"'w'", "index 7"});
  // Finite but larger than any gradient can make it.
  statistic[7] = 1e30f;
  ExpectRejected(&stats, StepRequest(1, kStatistics, {{"w", statistic}}),
                 grpc::StatusCode::INVALID_ARGUMENT,
                 {"'w'", "index 7", "[-1, 1]"});
  v1::StepResult fine =
      stats.Step(StepRequest(1, kStatistics, {{"w", std::vector<float>(11)}}));
  EXPECT_FALSE(fine.has_error()) << fine.error().message();
  EXPECT_EQ(Floats(fine.groups(0).values()).size(), 11u);
}

TEST_F(BadStepTest, OversizedMessageEndsTheStreamWithResourceExhausted) {
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "x", {{"w", 4}}, kRates));
  // 2 MiB of floats against a 1 MiB limit.
  v1::TrainResponse response;
  EXPECT_FALSE(stream.Exchange(
      StepRequest(1, kRates, {{"w", std::vector<float>(1 << 19)}}), &response));
  grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("1048576"));
  EXPECT_EQ(GetMemory("m").steps(), before_.steps());
}

TEST_F(TrainingTest, SessionLevelErrorsEndTheStream) {
  CreateMemory("m");
  auto expect_ends = [&](const v1::TrainRequest& request, grpc::StatusCode code,
                         const std::string& fragment) {
    TrainStream stream(stub_.get());
    v1::TrainResponse response;
    EXPECT_FALSE(stream.Exchange(request, &response));
    grpc::Status status = stream.Finish();
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(fragment));
  };
  expect_ends(StepRequest(1, kRates, {}), grpc::StatusCode::FAILED_PRECONDITION,
              "open");
  expect_ends(OpenRequest("missing", "a", {}, kRates),
              grpc::StatusCode::NOT_FOUND, "'missing'");
  expect_ends(OpenRequest("", "a", {}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "memory");
  expect_ends(OpenRequest("bad\x01", "a", {}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "control");
  expect_ends(OpenRequest("bad\xff", "a", {}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "UTF-8");
  expect_ends(OpenRequest("m", "a", {{"g\xc0\xaf", 1}}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "UTF-8");
  expect_ends(OpenRequest("m", "", {}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "learner");
  expect_ends(OpenRequest("m", "a", {{"g\n", 1}}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "group");
  expect_ends(OpenRequest("m", "a", {{"g", 1}, {"g", 2}}, kRates),
              grpc::StatusCode::INVALID_ARGUMENT, "twice");
  expect_ends(OpenRequest("m", "a", {}, v1::SESSION_MODE_UNSPECIFIED),
              grpc::StatusCode::INVALID_ARGUMENT, "mode");
}

TEST_F(TrainingTest, CreateIfMissingCreatesWithTheGivenConfig) {
  TrainStream stream(stub_.get());
  v1::MemoryConfig config;
  config.set_num_local_models(7);
  v1::SessionOpened opened = stream.Open(
      OpenRequest("fresh", "a", {{"w", 2}}, kStatistics, true, config));
  EXPECT_EQ(opened.centers_size(), 7);
  EXPECT_EQ(opened.last_sequence(), 0u);
  EXPECT_EQ(GetMemory("fresh").config().num_local_models(), 7u);
}

TEST_F(TrainingTest, DeletingTheMemoryEndsItsSessions) {
  CreateMemory("doomed");
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("doomed", "a", {{"w", 2}}, kRates));
  ASSERT_FALSE(
      stream.Step(StepRequest(1, kRates, {{"w", {1, 2}}})).has_error());
  {
    grpc::ClientContext context;
    v1::DeleteMemoryRequest request;
    request.set_name("doomed");
    v1::DeleteMemoryResponse response;
    ASSERT_TRUE(stub_->DeleteMemory(&context, request, &response).ok());
  }
  v1::TrainResponse response;
  EXPECT_FALSE(
      stream.Exchange(StepRequest(2, kRates, {{"w", {1, 2}}}), &response));
  grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("deleted"));
}

TEST_F(TrainingTest, ResentStepAfterARestartIsAnsweredFromCurrentValues) {
  CreateMemory("m");
  std::mt19937 rng(9);
  const std::vector<float> first = RandomSignal(&rng, 16);
  const std::vector<float> second = RandomSignal(&rng, 16);
  v1::StepResult original;
  {
    TrainStream stream(stub_.get());
    stream.Open(OpenRequest("m", "a", {{"w", 16}}, kRates));
    ASSERT_FALSE(
        stream.Step(StepRequest(1, kRates, {{"w", first}})).has_error());
    original = stream.Step(StepRequest(2, kRates, {{"w", second}}));
    ASSERT_FALSE(original.has_error());
    ASSERT_TRUE(stream.Finish().ok());
  }
  StartServer(TestServerOptions(dir_.path()));

  // The server lost its RAM; the answer is recomputed, nothing applied.
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "a", {{"w", 16}}, kRates));
  v1::StepResult again = stream.Step(StepRequest(2, kRates, {{"w", second}}));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.memory_steps(), 2u);
  EXPECT_EQ(again.groups(0).learning_rates(),
            original.groups(0).learning_rates());
  const v1::MemoryInfo info = GetMemory("m");
  EXPECT_EQ(info.steps(), 2u);
  EXPECT_EQ(info.groups(0).updates(), 1u);

  // The resent signal became the previous one: the next step learns.
  v1::StepResult next = stream.Step(StepRequest(3, kRates, {{"w", first}}));
  ASSERT_FALSE(next.has_error());
  EXPECT_EQ(GetMemory("m").groups(0).updates(), 2u);
}

TEST_F(TrainingTest, SixtyFourConcurrentStreamsOnSeparateMemories) {
  constexpr int kStreams = 64;
  constexpr int kSteps = 20;
  std::vector<std::unique_ptr<TrainStream>> streams;
  // All open at once before any step is sent.
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<TrainStream>(stub_.get()));
    streams.back()->Open(OpenRequest("m" + std::to_string(i % 8),
                                     "l" + std::to_string(i), {{"w", 256}},
                                     kRates, true, FastConfig()));
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(i);
      for (uint64_t t = 1; t <= kSteps; ++t) {
        v1::StepResult result = streams[i]->Step(
            StepRequest(t, kRates, {{"w", RandomSignal(&rng, 256)}}));
        if (result.has_error() || result.groups_size() != 1) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int m = 0; m < 8; ++m) {
    EXPECT_EQ(GetMemory("m" + std::to_string(m)).steps(),
              uint64_t{kStreams / 8 * kSteps});
  }
}

TEST_F(TrainingTest, VanishedClientsAreCleanedUp) {
  CreateMemory("m");
  for (int i = 0; i < 4; ++i) {
    TrainStream stream(stub_.get());
    stream.Open(
        OpenRequest("m", "gone-" + std::to_string(i), {{"w", 2}}, kRates));
    ASSERT_FALSE(
        stream.Step(StepRequest(1, kRates, {{"w", {1, 2}}})).has_error());
    EXPECT_GE(GetMemory("m").active_sessions(), 1u);
    // ~TrainStream cancels the call without closing it properly.
  }
  // The server notices asynchronously.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (GetMemory("m").active_sessions() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(GetMemory("m").active_sessions(), 0u);
  EXPECT_EQ(GetMemory("m").steps(), 4u);
}

// A learner that reconnects within the idle timeout finds its previous
// signal, and its next step learns; past the timeout the server has dropped
// it, and the next step contributes no statistic.
TEST_F(TrainingTest, IdleLearnerStateIsDroppedAfterTheTimeout) {
  const auto steps_after_reconnecting = [&](const std::string& memory) {
    CreateMemory(memory);
    {
      TrainStream stream(stub_.get());
      stream.Open(OpenRequest(memory, "a", {{"w", 2}}, kRates));
      EXPECT_FALSE(
          stream.Step(StepRequest(1, kRates, {{"w", {1, 2}}})).has_error());
      EXPECT_FALSE(
          stream.Step(StepRequest(2, kRates, {{"w", {1, -2}}})).has_error());
    }
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (GetMemory(memory).active_sessions() == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(GetMemory(memory).active_sessions(), 0u);
    TrainStream stream(stub_.get());
    stream.Open(OpenRequest(memory, "a", {{"w", 2}}, kRates));
    EXPECT_FALSE(
        stream.Step(StepRequest(3, kRates, {{"w", {2, 1}}})).has_error());
    return GetMemory(memory).groups(0).updates();
  };
  // The default timeout is minutes: steps 2 and 3 both learn.
  EXPECT_EQ(steps_after_reconnecting("kept"), 2u);

  LrmemServer::Options options = TestServerOptions(dir_.path());
  options.registry.memory.learner_idle_timeout = absl::ZeroDuration();
  StartServer(options);
  EXPECT_EQ(steps_after_reconnecting("dropped"), 1u);
}

TEST_F(TrainingTest, ShutdownEndsOpenStreamsWithUnavailable) {
  CreateMemory("m");
  TrainStream stream(stub_.get());
  stream.Open(OpenRequest("m", "a", {{"w", 2}}, kRates));
  ASSERT_FALSE(
      stream.Step(StepRequest(1, kRates, {{"w", {1, 2}}})).has_error());
  std::thread shutdown([&] { server_->Shutdown(); });
  // The stream is ended while the learner is between steps.
  grpc::Status status = stream.AwaitEnd();
  shutdown.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
}

}  // namespace
}  // namespace lrmem::testing
