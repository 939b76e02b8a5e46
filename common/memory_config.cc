#include "common/memory_config.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace lrmem {
namespace {

absl::Status Invalid(absl::string_view field, double value,
                     absl::string_view expectation) {
  return absl::InvalidArgumentError(
      absl::StrCat("memory config: ", field, " = ", value, " ", expectation));
}

// Checks that apply to every real-valued field: finite and, when asked,
// strictly positive.
absl::Status CheckFinitePositive(absl::string_view field, double value) {
  if (!std::isfinite(value)) return Invalid(field, value, "is not finite");
  if (value <= 0) return Invalid(field, value, "must be positive");
  return absl::OkStatus();
}

absl::Status CheckUnitInterval(absl::string_view field, double value) {
  if (!(value >= 0 && value < 1)) {
    return Invalid(field, value, "must be in [0, 1)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConfig(const MemoryConfig& c) {
  if (c.num_local_models < 2) {
    return Invalid("num_local_models", c.num_local_models,
                   "must be at least 2");
  }
  if (c.num_local_models > kMaxLocalModels) {
    return Invalid("num_local_models", c.num_local_models,
                   absl::StrCat("must be at most ", kMaxLocalModels));
  }
  if (c.center_layout == CenterLayout::kLogSpaced &&
      c.num_local_models % 2 == 0) {
    return Invalid("num_local_models", c.num_local_models,
                   "must be odd for the log-spaced layout (a center at zero "
                   "and the same number on each side)");
  }
  for (const auto& [field, value] :
       {std::pair<const char*, float>{"clip", c.clip},
        {"width_scale", c.width_scale},
        {"initial_learning_rate", c.initial_learning_rate},
        {"lr_min", c.lr_min},
        {"lr_max", c.lr_max},
        {"meta_learning_rate", c.meta_learning_rate},
        {"adam_epsilon", c.adam_epsilon}}) {
    absl::Status s = CheckFinitePositive(field, value);
    if (!s.ok()) return s;
  }
  if (c.center_layout == CenterLayout::kLogSpaced) {
    absl::Status s =
        CheckFinitePositive("smallest_magnitude", c.smallest_magnitude);
    if (!s.ok()) return s;
    if (c.smallest_magnitude >= c.clip) {
      return Invalid("smallest_magnitude", c.smallest_magnitude,
                     absl::StrCat("must be below clip (", c.clip, ")"));
    }
  } else if (!std::isfinite(c.smallest_magnitude)) {
    return Invalid("smallest_magnitude", c.smallest_magnitude, "is not finite");
  }
  if (c.lr_min > c.lr_max) {
    return Invalid("lr_min", c.lr_min,
                   absl::StrCat("must not exceed lr_max (", c.lr_max, ")"));
  }
  if (c.initial_learning_rate < c.lr_min ||
      c.initial_learning_rate > c.lr_max) {
    return Invalid("initial_learning_rate", c.initial_learning_rate,
                   absl::StrCat("must be inside [lr_min, lr_max] = [", c.lr_min,
                                ", ", c.lr_max, "]"));
  }
  for (const auto& [field, value] :
       {std::pair<const char*, float>{"adam_beta1", c.adam_beta1},
        {"adam_beta2", c.adam_beta2},
        {"value_smoothing", c.value_smoothing}}) {
    absl::Status s = CheckUnitInterval(field, value);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string CenterLayoutName(CenterLayout layout) {
  switch (layout) {
    case CenterLayout::kEven:
      return "even";
    case CenterLayout::kLogSpaced:
      return "log";
  }
  return "unknown";
}

std::string MetaOptimizerName(MetaOptimizerKind kind) {
  switch (kind) {
    case MetaOptimizerKind::kSgd:
      return "sgd";
    case MetaOptimizerKind::kAdam:
      return "adam";
  }
  return "unknown";
}

std::string ChangeRuleName(ChangeRule rule) {
  switch (rule) {
    case ChangeRule::kClampedProduct:
      return "clamped_product";
    case ChangeRule::kSign:
      return "sign";
  }
  return "unknown";
}

}  // namespace lrmem
