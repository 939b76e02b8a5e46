#include "common/config_proto.h"

#include "absl/strings/str_cat.h"

namespace lrmem {
namespace {

absl::StatusOr<CenterLayout> LayoutFromProto(v1::CenterLayout layout) {
  switch (layout) {
    case v1::CENTER_LAYOUT_EVEN:
      return CenterLayout::kEven;
    case v1::CENTER_LAYOUT_LOG:
      return CenterLayout::kLogSpaced;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "memory config: center_layout = ", static_cast<int>(layout),
          " is not a known layout (even or log)"));
  }
}

absl::StatusOr<MetaOptimizerKind> MetaOptimizerFromProto(
    v1::MetaOptimizer kind) {
  switch (kind) {
    case v1::META_OPTIMIZER_SGD:
      return MetaOptimizerKind::kSgd;
    case v1::META_OPTIMIZER_ADAM:
      return MetaOptimizerKind::kAdam;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "memory config: meta_optimizer = ", static_cast<int>(kind),
          " is not a known optimizer (sgd or adam)"));
  }
}

absl::StatusOr<ChangeRule> ChangeRuleFromProto(v1::ChangeRule rule) {
  switch (rule) {
    case v1::CHANGE_RULE_CLAMPED_PRODUCT:
      return ChangeRule::kClampedProduct;
    case v1::CHANGE_RULE_SIGN:
      return ChangeRule::kSign;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("memory config: change_rule = ", static_cast<int>(rule),
                       " is not a known rule (clamped_product or sign)"));
  }
}

}  // namespace

v1::MemoryConfig ConfigToProto(const MemoryConfig& c) {
  v1::MemoryConfig p;
  p.set_num_local_models(static_cast<uint32_t>(c.num_local_models));
  p.set_center_layout(c.center_layout == CenterLayout::kEven
                          ? v1::CENTER_LAYOUT_EVEN
                          : v1::CENTER_LAYOUT_LOG);
  p.set_clip(c.clip);
  p.set_smallest_magnitude(c.smallest_magnitude);
  p.set_width_scale(c.width_scale);
  p.set_initial_learning_rate(c.initial_learning_rate);
  p.set_lr_min(c.lr_min);
  p.set_lr_max(c.lr_max);
  p.set_meta_optimizer(c.meta_optimizer == MetaOptimizerKind::kSgd
                           ? v1::META_OPTIMIZER_SGD
                           : v1::META_OPTIMIZER_ADAM);
  p.set_meta_learning_rate(c.meta_learning_rate);
  p.set_adam_beta1(c.adam_beta1);
  p.set_adam_beta2(c.adam_beta2);
  p.set_adam_epsilon(c.adam_epsilon);
  p.set_change_rule(c.change_rule == ChangeRule::kClampedProduct
                        ? v1::CHANGE_RULE_CLAMPED_PRODUCT
                        : v1::CHANGE_RULE_SIGN);
  p.set_value_smoothing(c.value_smoothing);
  return p;
}

absl::StatusOr<MemoryConfig> ConfigFromProto(const v1::MemoryConfig& p) {
  MemoryConfig c;
  if (p.has_num_local_models()) {
    if (p.num_local_models() > 4096) {
      return absl::InvalidArgumentError(absl::StrCat(
          "memory config: num_local_models = ", p.num_local_models(),
          " must be at most 4096"));
    }
    c.num_local_models = static_cast<int>(p.num_local_models());
  }
  if (p.has_center_layout()) {
    absl::StatusOr<CenterLayout> layout = LayoutFromProto(p.center_layout());
    if (!layout.ok()) return layout.status();
    c.center_layout = *layout;
  }
  if (p.has_clip()) c.clip = p.clip();
  if (p.has_smallest_magnitude()) c.smallest_magnitude = p.smallest_magnitude();
  if (p.has_width_scale()) c.width_scale = p.width_scale();
  if (p.has_initial_learning_rate()) {
    c.initial_learning_rate = p.initial_learning_rate();
  }
  if (p.has_lr_min()) c.lr_min = p.lr_min();
  if (p.has_lr_max()) c.lr_max = p.lr_max();
  if (p.has_meta_optimizer()) {
    absl::StatusOr<MetaOptimizerKind> kind =
        MetaOptimizerFromProto(p.meta_optimizer());
    if (!kind.ok()) return kind.status();
    c.meta_optimizer = *kind;
  }
  if (p.has_meta_learning_rate()) c.meta_learning_rate = p.meta_learning_rate();
  if (p.has_adam_beta1()) c.adam_beta1 = p.adam_beta1();
  if (p.has_adam_beta2()) c.adam_beta2 = p.adam_beta2();
  if (p.has_adam_epsilon()) c.adam_epsilon = p.adam_epsilon();
  if (p.has_change_rule()) {
    absl::StatusOr<ChangeRule> rule = ChangeRuleFromProto(p.change_rule());
    if (!rule.ok()) return rule.status();
    c.change_rule = *rule;
  }
  if (p.has_value_smoothing()) c.value_smoothing = p.value_smoothing();

  absl::Status valid = ValidateConfig(c);
  if (!valid.ok()) return valid;
  return c;
}

}  // namespace lrmem
