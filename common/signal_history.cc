#include "common/signal_history.h"

namespace lrmem {

bool SignalHistory::ComputeStatistic(const LocalModels& models,
                                     absl::Span<const float> current,
                                     absl::Span<float> statistic) const {
  if (!has_previous_ || previous_.size() != current.size()) return false;
  models.ComputeStatistic(previous_, current, statistic);
  return true;
}

void SignalHistory::Remember(absl::Span<const float> current) {
  previous_.assign(current.begin(), current.end());
  has_previous_ = true;
}

void SignalHistory::Exchange(std::vector<float>* current) {
  previous_.swap(*current);
  has_previous_ = true;
}

void SignalHistory::Clear() {
  previous_.clear();
  has_previous_ = false;
}

}  // namespace lrmem
