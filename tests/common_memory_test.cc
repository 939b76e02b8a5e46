// Memory: its full state survives ToProto/FromProto bit for bit, corrupt
// states are refused, and ResetOptimizer keeps only what was learned.

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/config_proto.h"
#include "common/memory.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}

std::vector<uint32_t> Bits(absl::Span<const float> values) {
  std::vector<uint32_t> bits;
  for (float v : values) bits.push_back(Bits(v));
  return bits;
}

MemoryConfig AdamConfig() {
  MemoryConfig config;
  config.num_local_models = 7;
  config.center_layout = CenterLayout::kLogSpaced;
  config.clip = 1.5f;
  config.smallest_magnitude = 1e-3f;
  config.width_scale = 0.3f;
  config.initial_learning_rate = 0.01f;
  config.lr_min = 1e-6f;
  config.lr_max = 0.5f;
  config.meta_optimizer = MetaOptimizerKind::kAdam;
  config.meta_learning_rate = 0.003f;
  config.adam_beta1 = 0.85f;
  config.adam_beta2 = 0.995f;
  config.adam_epsilon = 1e-7f;
  config.change_rule = ChangeRule::kSign;
  config.value_smoothing = 0.1f;
  return config;
}

// A memory that has learned something in two groups, with learners and
// timestamps, and values whose bits are not round decimal numbers.
Memory TrainedMemory() {
  auto created = Memory::Create(AdamConfig());
  EXPECT_TRUE(created.ok()) << created.status();
  Memory memory = *std::move(created);
  const std::vector<std::vector<float>> statistics = {
      {0.1f, -0.3f, 0.7f, 1e-5f, -0.875f, 0.0f, 0.333f},
      {0.2f, 0.3f, -0.7f, 3e-5f, 0.5f, 0.0f, -1.0f / 3},
      {-0.05f, 0.01f, 0.9f, -1e-5f, -0.5f, 0.0f, 0.1f}};
  for (const std::vector<float>& s : statistics) {
    EXPECT_TRUE(
        memory.GroupOrNew("conv1").ApplyStatistic(memory.config(), s).ok());
    memory.CountStep();
  }
  EXPECT_TRUE(memory.GroupOrNew("fc/weights")
                  .ApplyStatistic(memory.config(), statistics[1])
                  .ok());
  memory.GroupOrNew("conv1").set_last_size(4096);
  memory.GroupOrNew("untouched");
  memory.SetLastSequence("learner-a", 17);
  memory.SetLastSequence("learner-b", 1ull << 40);
  memory.set_created_at(absl::FromUnixNanos(1700000000123456789));
  memory.set_updated_at(absl::FromUnixNanos(1700000999987654321));
  return memory;
}

void ExpectSameMemory(const Memory& a, const Memory& b) {
  const v1::MemoryConfig config_a = ConfigToProto(a.config());
  const v1::MemoryConfig config_b = ConfigToProto(b.config());
  EXPECT_EQ(config_a.SerializeAsString(), config_b.SerializeAsString());
  ASSERT_EQ(a.groups().size(), b.groups().size());
  for (const auto& [name, group] : a.groups()) {
    const MemoryGroup* other = b.FindGroup(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_EQ(Bits(group.values()), Bits(other->values())) << name;
    EXPECT_EQ(Bits(group.first_moment()), Bits(other->first_moment())) << name;
    EXPECT_EQ(Bits(group.second_moment()), Bits(other->second_moment()))
        << name;
    EXPECT_EQ(group.updates(), other->updates()) << name;
    EXPECT_EQ(group.last_size(), other->last_size()) << name;
  }
  EXPECT_EQ(a.steps(), b.steps());
  EXPECT_EQ(a.created_at(), b.created_at());
  EXPECT_EQ(a.updated_at(), b.updated_at());
  for (const char* learner : {"learner-a", "learner-b", "nobody"}) {
    EXPECT_EQ(a.LastSequence(learner), b.LastSequence(learner)) << learner;
  }
}

TEST(MemoryTest, CreateRefusesAnInvalidConfig) {
  MemoryConfig config;
  config.lr_min = 2.0f;
  EXPECT_EQ(Memory::Create(config).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MemoryTest, GroupsAreCreatedFreshAndFoundByName) {
  auto memory = Memory::Create(AdamConfig());
  ASSERT_TRUE(memory.ok());
  EXPECT_EQ(memory->FindGroup("a"), nullptr);
  MemoryGroup& group = memory->GroupOrNew("a");
  EXPECT_EQ(group.values().size(), 7u);
  for (float v : group.values()) EXPECT_EQ(v, 0.01f);
  EXPECT_EQ(memory->FindGroup("a"), &group);
  EXPECT_EQ(&memory->GroupOrNew("a"), &group);
  EXPECT_EQ(memory->LastSequence("x"), 0u);
  EXPECT_EQ(memory->steps(), 0u);
  EXPECT_EQ(memory->created_at(), absl::UnixEpoch());
}

TEST(MemoryTest, ProtoRoundTripIsBitExact) {
  const Memory memory = TrainedMemory();
  // The state under test really has Adam moments and odd bits.
  const MemoryGroup* conv = memory.FindGroup("conv1");
  ASSERT_NE(conv, nullptr);
  ASSERT_EQ(conv->first_moment().size(), 7u);
  EXPECT_EQ(conv->updates(), 3u);

  const v1::MemoryState state = memory.ToProto();
  EXPECT_EQ(state.groups_size(), 3);
  EXPECT_EQ(state.steps(), 3u);
  EXPECT_EQ(state.created_at().seconds(), 1700000000);
  EXPECT_EQ(state.created_at().nanos(), 123456789);
  EXPECT_TRUE(state.config().has_value_smoothing());
  EXPECT_TRUE(state.config().has_adam_epsilon());

  auto back = Memory::FromProto(state);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameMemory(memory, *back);

  // And through the wire bytes.
  v1::MemoryState parsed;
  ASSERT_TRUE(parsed.ParseFromString(state.SerializeAsString()));
  auto again = Memory::FromProto(parsed);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameMemory(memory, *again);
}

TEST(MemoryTest, RestoredMemoryLearnsExactlyLikeTheOriginal) {
  Memory memory = TrainedMemory();
  auto copy = Memory::FromProto(memory.ToProto());
  ASSERT_TRUE(copy.ok()) << copy.status();
  const std::vector<float> s = {0.4f, -0.1f, 0.2f, 0.0f, 1.0f, -1.0f, 0.3f};
  ASSERT_TRUE(
      memory.GroupOrNew("conv1").ApplyStatistic(memory.config(), s).ok());
  ASSERT_TRUE(copy->GroupOrNew("conv1").ApplyStatistic(copy->config(), s).ok());
  ExpectSameMemory(memory, *copy);
}

TEST(MemoryTest, SgdMemoryRoundTripsWithoutMoments) {
  MemoryConfig config;
  config.meta_optimizer = MetaOptimizerKind::kSgd;
  auto memory = Memory::Create(config);
  ASSERT_TRUE(memory.ok());
  std::vector<float> s(21, 0.0f);
  s[10] = 0.5f;
  ASSERT_TRUE(memory->GroupOrNew("g").ApplyStatistic(config, s).ok());
  auto back = Memory::FromProto(memory->ToProto());
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameMemory(*memory, *back);
}

TEST(MemoryTest, FromProtoRefusesCorruptStates) {
  const v1::MemoryState good = TrainedMemory().ToProto();
  ASSERT_TRUE(Memory::FromProto(good).ok());
  ASSERT_EQ(good.groups(0).name(), "conv1");

  struct Corruption {
    const char* what;
    void (*apply)(v1::MemoryState*);
  };
  const Corruption corruptions[] = {
      {"too few values",
       [](v1::MemoryState* s) {
         s->mutable_groups(0)->mutable_values()->RemoveLast();
       }},
      {"too many values",
       [](v1::MemoryState* s) { s->mutable_groups(0)->add_values(0.01f); }},
      {"value above lr_max",
       [](v1::MemoryState* s) { s->mutable_groups(0)->set_values(2, 0.75f); }},
      {"value below lr_min",
       [](v1::MemoryState* s) { s->mutable_groups(0)->set_values(2, 1e-7f); }},
      {"NaN value",
       [](v1::MemoryState* s) {
         s->mutable_groups(0)->set_values(
             1, std::numeric_limits<float>::quiet_NaN());
       }},
      {"wrong first moment count",
       [](v1::MemoryState* s) { s->mutable_groups(0)->add_first_moment(0); }},
      {"wrong second moment count",
       [](v1::MemoryState* s) {
         s->mutable_groups(0)->mutable_second_moment()->RemoveLast();
       }},
      {"NaN moment",
       [](v1::MemoryState* s) {
         s->mutable_groups(0)->set_first_moment(
             0, std::numeric_limits<float>::quiet_NaN());
       }},
      {"negative second moment",
       [](v1::MemoryState* s) {
         s->mutable_groups(0)->set_second_moment(1, -1.0f);
       }},
      {"duplicate group",
       [](v1::MemoryState* s) { *s->add_groups() = s->groups(0); }},
      {"empty group name",
       [](v1::MemoryState* s) { s->mutable_groups(1)->set_name(""); }},
      {"invalid config",
       [](v1::MemoryState* s) { s->mutable_config()->set_clip(-1.0f); }},
      {"unknown layout",
       [](v1::MemoryState* s) {
         s->mutable_config()->set_center_layout(
             static_cast<v1::CenterLayout>(9));
       }},
      {"fewer local models than values",
       [](v1::MemoryState* s) {
         s->mutable_config()->set_num_local_models(5);
       }},
  };
  for (const Corruption& corruption : corruptions) {
    v1::MemoryState state = good;
    corruption.apply(&state);
    EXPECT_EQ(Memory::FromProto(state).status().code(),
              absl::StatusCode::kInvalidArgument)
        << corruption.what;
  }
}

TEST(MemoryTest, ResetOptimizerKeepsValuesAndClearsTheRest) {
  Memory memory = TrainedMemory();
  const std::vector<uint32_t> conv_values =
      Bits(memory.FindGroup("conv1")->values());
  const std::vector<uint32_t> fc_values =
      Bits(memory.FindGroup("fc/weights")->values());
  memory.ResetOptimizer();
  EXPECT_EQ(Bits(memory.FindGroup("conv1")->values()), conv_values);
  EXPECT_EQ(Bits(memory.FindGroup("fc/weights")->values()), fc_values);
  EXPECT_EQ(memory.groups().size(), 3u);
  for (const auto& [name, group] : memory.groups()) {
    EXPECT_EQ(group.updates(), 0u) << name;
    for (float m : group.first_moment()) EXPECT_EQ(m, 0.0f) << name;
    for (float v : group.second_moment()) EXPECT_EQ(v, 0.0f) << name;
  }
  EXPECT_EQ(memory.steps(), 0u);
  EXPECT_EQ(memory.LastSequence("learner-a"), 0u);
  EXPECT_EQ(memory.LastSequence("learner-b"), 0u);
  EXPECT_TRUE(memory.ToProto().learner_last_sequence().empty());
}

}  // namespace
}  // namespace lrmem
