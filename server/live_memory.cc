#include "server/live_memory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config_proto.h"
#include "glog/logging.h"
#include "server/time_proto.h"

namespace lrmem {

LiveMemory::LiveMemory(std::string name, Memory memory, Store* store,
                       const Options& options)
    : name_(std::move(name)),
      store_(store),
      memory_(std::move(memory)),
      options_(options) {}

LiveMemory::View LiveMemory::Look(absl::string_view learner_id) const {
  absl::ReaderMutexLock lock(&mu_);
  View view;
  view.models = memory_.shared_models();
  view.last_sequence = memory_.LastSequence(learner_id);
  view.steps = memory_.steps();
  view.generation = generation_;
  view.deleted = deleted_;
  return view;
}

absl::Status LiveMemory::CheckStepAllowed(uint64_t sequence,
                                          absl::string_view learner_id,
                                          const View& seen) const {
  if (deleted_) {
    return absl::NotFoundError(
        absl::StrCat("memory '", name_, "' was deleted"));
  }
  if (generation_ != seen.generation) {
    return absl::AbortedError(absl::StrCat(
        "memory '", name_,
        "' was replaced while the step was being computed; send it again"));
  }
  const uint64_t last = memory_.LastSequence(learner_id);
  if (sequence <= last) {
    return absl::FailedPreconditionError(
        absl::StrCat("learner '", learner_id, "': step ", sequence,
                     " is not after the last applied step ", last));
  }
  return absl::OkStatus();
}

absl::StatusOr<LiveMemory::Outcome> LiveMemory::ApplyStep(
    absl::string_view learner_id, uint64_t sequence, const View& seen,
    const std::vector<GroupUpdate>& updates) {
  absl::MutexLock lock(&mu_);
  absl::Status status = CheckStepAllowed(sequence, learner_id, seen);
  if (!status.ok()) return status;
  size_t new_groups = 0;
  for (const GroupUpdate& update : updates) {
    if (memory_.FindGroup(update.group) == nullptr) ++new_groups;
  }
  if (memory_.groups().size() + new_groups > options_.max_groups) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "memory '", name_, "' has ", memory_.groups().size(),
        " groups and the step would add ", new_groups, "; the limit is ",
        options_.max_groups, " groups per memory (--max_groups_per_memory)"));
  }

  // Apply to a copy, so that a bad statistic or a failed write leaves the
  // live memory untouched.
  Memory next = memory_;
  for (const GroupUpdate& update : updates) {
    MemoryGroup& group = next.GroupOrNew(update.group);
    group.set_last_size(update.size);
    if (update.statistic.empty()) continue;
    status = group.ApplyStatistic(next.config(), update.statistic);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("group '", update.group,
                                                      "': ", status.message()));
    }
  }
  next.CountStep();
  next.SetLastSequence(learner_id, sequence);
  next.set_updated_at(absl::Now());

  // Durable before visible: the answer is sent only after this write.
  status = store_->PutMemory(name_, next.ToProto());
  if (!status.ok()) {
    LOG(ERROR) << "memory '" << name_ << "': step not persisted: " << status;
    return status;
  }
  memory_ = std::move(next);

  Outcome outcome;
  outcome.models = memory_.shared_models();
  outcome.steps = memory_.steps();
  outcome.values.reserve(updates.size());
  for (const GroupUpdate& update : updates) {
    absl::Span<const float> values = memory_.FindGroup(update.group)->values();
    outcome.values.emplace_back(values.begin(), values.end());
  }
  return outcome;
}

LiveMemory::Outcome LiveMemory::CurrentValues(
    const std::vector<std::string>& groups) const {
  absl::ReaderMutexLock lock(&mu_);
  Outcome outcome;
  outcome.models = memory_.shared_models();
  outcome.steps = memory_.steps();
  for (const std::string& name : groups) {
    const MemoryGroup* group = memory_.FindGroup(name);
    if (group == nullptr) {
      MemoryGroup fresh(memory_.config());
      outcome.values.emplace_back(fresh.values().begin(), fresh.values().end());
    } else {
      outcome.values.emplace_back(group->values().begin(),
                                  group->values().end());
    }
  }
  return outcome;
}

v1::MemoryState LiveMemory::State() const {
  absl::ReaderMutexLock lock(&mu_);
  return memory_.ToProto();
}

v1::MemoryInfo LiveMemory::Info(bool include_values) const {
  v1::MemoryInfo info;
  info.set_name(name_);
  info.set_active_sessions(static_cast<uint32_t>(active_sessions()));
  absl::ReaderMutexLock lock(&mu_);
  *info.mutable_config() = ConfigToProto(memory_.config());
  info.set_steps(memory_.steps());
  for (const auto& [group_name, group] : memory_.groups()) {
    v1::GroupInfo* group_info = info.add_groups();
    group_info->set_name(group_name);
    group_info->set_updates(group.updates());
    group_info->set_last_size(group.last_size());
    if (include_values) {
      group_info->mutable_values()->Add(group.values().begin(),
                                        group.values().end());
    }
  }
  const LocalModels& models = memory_.models();
  info.mutable_centers()->Add(models.centers().begin(), models.centers().end());
  info.mutable_widths()->Add(models.widths().begin(), models.widths().end());
  *info.mutable_created_at() = ToTimestamp(memory_.created_at());
  *info.mutable_updated_at() = ToTimestamp(memory_.updated_at());
  return info;
}

absl::Status LiveMemory::Replace(Memory memory) {
  absl::MutexLock lock(&mu_);
  if (deleted_) {
    return absl::NotFoundError(
        absl::StrCat("memory '", name_, "' was deleted"));
  }
  absl::Status status = store_->PutMemory(name_, memory.ToProto());
  if (!status.ok()) return status;
  memory_ = std::move(memory);
  ++generation_;
  return absl::OkStatus();
}

absl::Status LiveMemory::MarkDeleted() {
  absl::MutexLock lock(&mu_);
  if (deleted_) return absl::OkStatus();
  absl::Status status = store_->DeleteMemory(name_);
  if (!status.ok()) return status;
  deleted_ = true;
  return absl::OkStatus();
}

std::shared_ptr<LearnerState> LiveMemory::OpenLearner(
    absl::string_view learner_id) {
  absl::MutexLock lock(&mu_);
  DropIdleLearners(absl::Now());
  LearnerEntry& entry = learners_[learner_id];
  if (entry.state == nullptr) entry.state = std::make_shared<LearnerState>();
  ++entry.sessions;
  return entry.state;
}

void LiveMemory::CloseLearner(absl::string_view learner_id) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  auto it = learners_.find(learner_id);
  if (it != learners_.end() && --it->second.sessions == 0) {
    it->second.idle_since = now;
  }
  DropIdleLearners(now);
}

size_t LiveMemory::learner_states() const {
  absl::ReaderMutexLock lock(&mu_);
  return learners_.size();
}

void LiveMemory::DropIdleLearners() {
  absl::MutexLock lock(&mu_);
  DropIdleLearners(absl::Now());
}

void LiveMemory::DropIdleLearners(absl::Time now) {
  absl::erase_if(learners_, [&](const auto& learner) {
    const LearnerEntry& entry = learner.second;
    return entry.sessions == 0 &&
           now - entry.idle_since >= options_.learner_idle_timeout;
  });
}

}  // namespace lrmem
