#include "common/memory_group.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace lrmem {
namespace {

// Each value moves `smoothing` of the way towards the mean of its
// neighbours (the one neighbour at either end).
void Smooth(double smoothing, std::vector<double>& values) {
  const size_t n = values.size();
  std::vector<double> before = values;
  for (size_t m = 0; m < n; ++m) {
    const double left = before[m == 0 ? 1 : m - 1];
    const double right = before[m + 1 == n ? n - 2 : m + 1];
    values[m] += smoothing * (0.5 * (left + right) - before[m]);
  }
}

// The largest |entry| ApplyStatistic accepts: 1, and room for rounding.
constexpr float kLargestStatistic = 1.0f + 1e-5f;

}  // namespace

MemoryGroup::MemoryGroup(const MemoryConfig& config)
    : values_(config.num_local_models, config.initial_learning_rate) {}

absl::Status MemoryGroup::ApplyStatistic(const MemoryConfig& config,
                                         absl::Span<const float> statistic) {
  if (statistic.size() != values_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "statistic has ", statistic.size(), " values; the memory has ",
        values_.size(), " local models"));
  }
  absl::Status finite = CheckFinite(statistic, "statistic");
  if (!finite.ok()) return finite;
  // Each entry is a mean of change terms in [-1, 1] times activations in
  // [0, 1]. Anything larger did not come from a gradient and would push
  // the meta optimizer's moments towards overflow.
  for (size_t m = 0; m < statistic.size(); ++m) {
    if (std::abs(statistic[m]) > kLargestStatistic) {
      return absl::InvalidArgumentError(
          absl::StrCat("statistic at index ", m, " is ", statistic[m],
                       "; a statistic's entries lie in [-1, 1]"));
    }
  }
  if (std::all_of(statistic.begin(), statistic.end(),
                  [](float s) { return s == 0.0f; })) {
    return absl::OkStatus();
  }

  // The step, computed in double and rounded once when stored.
  const size_t n = values_.size();
  std::vector<double> next(values_.begin(), values_.end());
  if (config.meta_optimizer == MetaOptimizerKind::kSgd) {
    for (size_t m = 0; m < n; ++m) {
      next[m] += static_cast<double>(config.meta_learning_rate) * statistic[m];
    }
  } else {
    if (first_moment_.empty()) {
      first_moment_.assign(n, 0.0f);
      second_moment_.assign(n, 0.0f);
    }
    const double b1 = config.adam_beta1, b2 = config.adam_beta2;
    const double t = static_cast<double>(updates_ + 1);
    const double c1 = 1.0 - std::pow(b1, t), c2 = 1.0 - std::pow(b2, t);
    for (size_t m = 0; m < n; ++m) {
      const double s = statistic[m];
      const double m1 = b1 * first_moment_[m] + (1.0 - b1) * s;
      const double m2 = b2 * second_moment_[m] + (1.0 - b2) * s * s;
      first_moment_[m] = static_cast<float>(m1);
      second_moment_[m] = static_cast<float>(m2);
      next[m] += config.meta_learning_rate * (m1 / c1) /
                 (std::sqrt(m2 / c2) + config.adam_epsilon);
    }
  }
  if (config.value_smoothing > 0) Smooth(config.value_smoothing, next);

  for (size_t m = 0; m < n; ++m) {
    values_[m] =
        std::clamp(static_cast<float>(next[m]), config.lr_min, config.lr_max);
  }
  ++updates_;
  return absl::OkStatus();
}

void MemoryGroup::ResetOptimizer() {
  first_moment_.clear();
  second_moment_.clear();
  updates_ = 0;
}

absl::Status MemoryGroup::Restore(const MemoryConfig& config,
                                  std::vector<float> values,
                                  std::vector<float> first_moment,
                                  std::vector<float> second_moment,
                                  uint64_t updates, uint64_t last_size) {
  const size_t n = static_cast<size_t>(config.num_local_models);
  if (values.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("group has ", values.size(),
                                                   " values; the config has ",
                                                   n, " local models"));
  }
  for (size_t m = 0; m < n; ++m) {
    if (!(values[m] >= config.lr_min && values[m] <= config.lr_max)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group value ", m, " = ", values[m], " is outside [lr_min, lr_max]",
          " = [", config.lr_min, ", ", config.lr_max, "]"));
    }
  }
  const bool no_moments = first_moment.empty() && second_moment.empty();
  if (!no_moments && (first_moment.size() != n || second_moment.size() != n)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group has ", first_moment.size(), " first and ", second_moment.size(),
        " second moments; expected none or ", n));
  }
  absl::Status s = CheckFinite(first_moment, "group first moment");
  if (s.ok()) s = CheckFinite(second_moment, "group second moment");
  if (!s.ok()) return s;
  for (size_t m = 0; m < second_moment.size(); ++m) {
    if (second_moment[m] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("group second moment at index ", m, " is negative (",
                       second_moment[m], ")"));
    }
  }

  values_ = std::move(values);
  first_moment_ = std::move(first_moment);
  second_moment_ = std::move(second_moment);
  updates_ = updates;
  last_size_ = last_size;
  return absl::OkStatus();
}

}  // namespace lrmem
