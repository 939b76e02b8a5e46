// SignalHistory: a learner's previous gradient signal for one group, which
// is what turns the next signal into a learning statistic. It is per
// learner and per group, O(D), and never part of the shared memory.

#ifndef LRMEM_COMMON_SIGNAL_HISTORY_H_
#define LRMEM_COMMON_SIGNAL_HISTORY_H_

#include <vector>

#include "absl/types/span.h"
#include "common/local_models.h"

namespace lrmem {

class SignalHistory {
 public:
  bool has_previous() const { return has_previous_; }
  absl::Span<const float> previous() const { return previous_; }

  // Fills `statistic` (size M) from the stored previous signal and
  // `current`, and returns true; returns false and leaves `statistic`
  // untouched when there is no previous signal of the same size (a first
  // step, or the group changed size).
  bool ComputeStatistic(const LocalModels& models,
                        absl::Span<const float> current,
                        absl::Span<float> statistic) const;

  // Stores `current` as the previous signal of the next step.
  void Remember(absl::Span<const float> current);
  // The same without a copy: takes `*current` as the previous signal and
  // leaves the old previous signal's storage in `*current` for reuse.
  void Exchange(std::vector<float>* current);

  void Clear();

 private:
  std::vector<float> previous_;
  bool has_previous_ = false;
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_SIGNAL_HISTORY_H_
