#include "common/memory.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config_proto.h"
#include "common/validation.h"

namespace lrmem {
namespace {

void TimeToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1000000000;
  int64_t rest = nanos % 1000000000;
  if (rest < 0) {
    rest += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest));
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace

Memory::Memory(std::shared_ptr<const LocalModels> models)
    : models_(std::move(models)) {}

absl::StatusOr<Memory> Memory::Create(const MemoryConfig& config) {
  absl::StatusOr<std::shared_ptr<const LocalModels>> models =
      LocalModels::Create(config);
  if (!models.ok()) return models.status();
  return Memory(*std::move(models));
}

absl::StatusOr<Memory> Memory::FromProto(const v1::MemoryState& state) {
  absl::StatusOr<MemoryConfig> config = ConfigFromProto(state.config());
  if (!config.ok()) return config.status();
  absl::StatusOr<Memory> memory = Create(*config);
  if (!memory.ok()) return memory.status();

  for (const v1::GroupState& g : state.groups()) {
    absl::Status name = ValidateName("group", g.name());
    if (!name.ok()) return name;
    if (memory->groups_.count(g.name()) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("group '", g.name(), "' appears twice"));
    }
    MemoryGroup group(*config);
    absl::Status s =
        group.Restore(*config, {g.values().begin(), g.values().end()},
                      {g.first_moment().begin(), g.first_moment().end()},
                      {g.second_moment().begin(), g.second_moment().end()},
                      g.updates(), g.last_size());
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("group '", g.name(), "': ", s.message()));
    }
    memory->groups_.emplace(g.name(), std::move(group));
  }
  for (const auto& [learner, sequence] : state.learner_last_sequence()) {
    memory->learner_last_sequence_[learner] = sequence;
  }
  memory->steps_ = state.steps();
  memory->created_at_ = TimeFromProto(state.created_at());
  memory->updated_at_ = TimeFromProto(state.updated_at());
  return memory;
}

v1::MemoryState Memory::ToProto() const {
  v1::MemoryState state;
  *state.mutable_config() = ConfigToProto(config());
  for (const auto& [name, group] : groups_) {
    v1::GroupState* g = state.add_groups();
    g->set_name(name);
    g->mutable_values()->Add(group.values().begin(), group.values().end());
    g->mutable_first_moment()->Add(group.first_moment().begin(),
                                   group.first_moment().end());
    g->mutable_second_moment()->Add(group.second_moment().begin(),
                                    group.second_moment().end());
    g->set_updates(group.updates());
    g->set_last_size(group.last_size());
  }
  state.set_steps(steps_);
  for (const auto& [learner, sequence] : learner_last_sequence_) {
    (*state.mutable_learner_last_sequence())[learner] = sequence;
  }
  TimeToProto(created_at_, state.mutable_created_at());
  TimeToProto(updated_at_, state.mutable_updated_at());
  return state;
}

const MemoryGroup* Memory::FindGroup(absl::string_view name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

MemoryGroup& Memory::GroupOrNew(absl::string_view name) {
  auto it = groups_.find(name);
  if (it == groups_.end()) {
    it = groups_.emplace(std::string(name), MemoryGroup(config())).first;
  }
  return it->second;
}

uint64_t Memory::LastSequence(absl::string_view learner_id) const {
  auto it = learner_last_sequence_.find(learner_id);
  return it == learner_last_sequence_.end() ? 0 : it->second;
}

void Memory::SetLastSequence(absl::string_view learner_id, uint64_t sequence) {
  auto it = learner_last_sequence_.find(learner_id);
  if (it == learner_last_sequence_.end()) {
    learner_last_sequence_.emplace(std::string(learner_id), sequence);
  } else {
    it->second = sequence;
  }
}

void Memory::ResetOptimizer() {
  for (auto& [name, group] : groups_) group.ResetOptimizer();
  learner_last_sequence_.clear();
  steps_ = 0;
}

}  // namespace lrmem
