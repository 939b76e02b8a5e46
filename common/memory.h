// Memory: a named set of MemoryGroup sharing one config, plus the
// bookkeeping that makes it resumable (step count, each learner's last
// applied step). This is the object the server persists and the client can
// hold in process.
//
// Thread-safety: none; callers serialize access (the server holds one lock
// per memory).

#ifndef LRMEM_COMMON_MEMORY_H_
#define LRMEM_COMMON_MEMORY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/local_models.h"
#include "common/memory_group.h"
#include "lrmem/v1/memory.pb.h"

namespace lrmem {

class Memory {
 public:
  // INVALID_ARGUMENT when the config is not valid.
  static absl::StatusOr<Memory> Create(const MemoryConfig& config);

  // Reads a full state back, checking it as it would check user input.
  static absl::StatusOr<Memory> FromProto(const v1::MemoryState& state);
  // Everything, bit-exact: FromProto(ToProto()) is an identical memory.
  v1::MemoryState ToProto() const;

  const MemoryConfig& config() const { return models_->config(); }
  const LocalModels& models() const { return *models_; }
  std::shared_ptr<const LocalModels> shared_models() const { return models_; }

  // Groups by name, in name order.
  const std::map<std::string, MemoryGroup, std::less<>>& groups() const {
    return groups_;
  }
  const MemoryGroup* FindGroup(absl::string_view name) const;
  // The named group, created fresh from the config when new.
  MemoryGroup& GroupOrNew(absl::string_view name);

  uint64_t steps() const { return steps_; }
  void CountStep() { ++steps_; }

  // 0 for a learner never seen.
  uint64_t LastSequence(absl::string_view learner_id) const;
  void SetLastSequence(absl::string_view learner_id, uint64_t sequence);

  // Keeps the learned values; clears every group's meta optimizer, the step
  // count and the learners' sequence numbers. How a memory is reused on a
  // new task.
  void ResetOptimizer();

  // When the memory was created and last changed, as the server recorded
  // it (the epoch when never set).
  absl::Time created_at() const { return created_at_; }
  absl::Time updated_at() const { return updated_at_; }
  void set_created_at(absl::Time t) { created_at_ = t; }
  void set_updated_at(absl::Time t) { updated_at_ = t; }

 private:
  explicit Memory(std::shared_ptr<const LocalModels> models);

  std::shared_ptr<const LocalModels> models_;
  std::map<std::string, MemoryGroup, std::less<>> groups_;
  std::map<std::string, uint64_t, std::less<>> learner_last_sequence_;
  uint64_t steps_ = 0;
  absl::Time created_at_ = absl::UnixEpoch();
  absl::Time updated_at_ = absl::UnixEpoch();
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_MEMORY_H_
