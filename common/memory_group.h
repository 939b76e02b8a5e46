// MemoryGroup: what one parameter group of a memory has learned. Its size is
// O(M), independent of the number of parameters in the group.

#ifndef LRMEM_COMMON_MEMORY_GROUP_H_
#define LRMEM_COMMON_MEMORY_GROUP_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/memory_config.h"

namespace lrmem {

class MemoryGroup {
 public:
  // A group that has learned nothing yet: every value at the config's
  // initial learning rate. REQUIRES: ValidateConfig(config).ok().
  explicit MemoryGroup(const MemoryConfig& config);

  // Moves the values along `statistic` with the config's meta optimizer
  // (ascent: a positive entry raises its value), smooths them if
  // configured, and clamps them into [lr_min, lr_max].
  //
  // A statistic that is all zero carries no information: nothing changes,
  // not even the update count. INVALID_ARGUMENT, with nothing changed, when
  // the statistic has the wrong length, a non-finite entry, or an entry
  // outside [-1, 1] (which no gradients can produce).
  absl::Status ApplyStatistic(const MemoryConfig& config,
                              absl::Span<const float> statistic);

  // Back to a fresh meta optimizer (moments and update count cleared),
  // keeping the learned values.
  void ResetOptimizer();

  absl::Span<const float> values() const { return values_; }
  absl::Span<const float> first_moment() const { return first_moment_; }
  absl::Span<const float> second_moment() const { return second_moment_; }
  uint64_t updates() const { return updates_; }
  uint64_t last_size() const { return last_size_; }
  void set_last_size(uint64_t size) { last_size_ = size; }

  // Replaces the whole state, as read back from storage. Checks lengths and
  // bounds against `config`; INVALID_ARGUMENT and no change otherwise.
  absl::Status Restore(const MemoryConfig& config, std::vector<float> values,
                       std::vector<float> first_moment,
                       std::vector<float> second_moment, uint64_t updates,
                       uint64_t last_size);

 private:
  std::vector<float> values_;
  // Adam's moments of the statistic; empty until the first Adam update and
  // for SGD.
  std::vector<float> first_moment_;
  std::vector<float> second_moment_;
  uint64_t updates_ = 0;
  uint64_t last_size_ = 0;
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_MEMORY_GROUP_H_
