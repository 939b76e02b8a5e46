// ValidateConfig refuses every bad value with a message naming the field
// and the value; ConfigFromProto fills unset fields with the defaults and
// refuses what ValidateConfig refuses, and unknown enum values.

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/config_proto.h"
#include "common/memory_config.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct BadValue {
  std::string field;
  // How the value appears in the message, lower case.
  std::string shown;
  std::function<void(MemoryConfig*)> set;
};

std::vector<BadValue> BadValues() {
  return {
      {"num_local_models", "1",
       [](MemoryConfig* c) { c->num_local_models = 1; }},
      {"num_local_models", "0",
       [](MemoryConfig* c) { c->num_local_models = 0; }},
      {"num_local_models", "-3",
       [](MemoryConfig* c) { c->num_local_models = -3; }},
      {"num_local_models", "20",
       [](MemoryConfig* c) {
         c->center_layout = CenterLayout::kLogSpaced;
         c->num_local_models = 20;
       }},
      {"num_local_models", "257",
       [](MemoryConfig* c) {
         c->center_layout = CenterLayout::kLogSpaced;
         c->num_local_models = 257;
       }},
      {"clip", "0", [](MemoryConfig* c) { c->clip = 0.0f; }},
      {"clip", "-2", [](MemoryConfig* c) { c->clip = -2.0f; }},
      {"clip", "nan", [](MemoryConfig* c) { c->clip = kNaN; }},
      {"clip", "inf", [](MemoryConfig* c) { c->clip = kInf; }},
      {"smallest_magnitude", "0",
       [](MemoryConfig* c) { c->smallest_magnitude = 0.0f; }},
      {"smallest_magnitude", "-0.5",
       [](MemoryConfig* c) { c->smallest_magnitude = -0.5f; }},
      {"smallest_magnitude", "2",
       [](MemoryConfig* c) { c->smallest_magnitude = 2.0f; }},
      {"smallest_magnitude", "3",
       [](MemoryConfig* c) { c->smallest_magnitude = 3.0f; }},
      {"smallest_magnitude", "nan",
       [](MemoryConfig* c) { c->smallest_magnitude = kNaN; }},
      {"width_scale", "0", [](MemoryConfig* c) { c->width_scale = 0.0f; }},
      {"width_scale", "-0.25",
       [](MemoryConfig* c) { c->width_scale = -0.25f; }},
      {"width_scale", "nan", [](MemoryConfig* c) { c->width_scale = kNaN; }},
      {"width_scale", "inf", [](MemoryConfig* c) { c->width_scale = kInf; }},
      {"initial_learning_rate", "0.5",
       [](MemoryConfig* c) {
         c->lr_max = 0.25f;
         c->initial_learning_rate = 0.5f;
       }},
      {"initial_learning_rate", "0.125",
       [](MemoryConfig* c) {
         c->lr_min = 0.25f;
         c->initial_learning_rate = 0.125f;
       }},
      {"initial_learning_rate", "nan",
       [](MemoryConfig* c) { c->initial_learning_rate = kNaN; }},
      {"lr_min", "0", [](MemoryConfig* c) { c->lr_min = 0.0f; }},
      {"lr_min", "-1", [](MemoryConfig* c) { c->lr_min = -1.0f; }},
      {"lr_min", "nan", [](MemoryConfig* c) { c->lr_min = kNaN; }},
      {"lr_min", "0.75",
       [](MemoryConfig* c) {
         c->lr_min = 0.75f;
         c->lr_max = 0.5f;
         c->initial_learning_rate = 0.5f;
       }},
      {"lr_max", "nan", [](MemoryConfig* c) { c->lr_max = kNaN; }},
      {"lr_max", "inf", [](MemoryConfig* c) { c->lr_max = kInf; }},
      {"lr_max", "-1", [](MemoryConfig* c) { c->lr_max = -1.0f; }},
      {"meta_learning_rate", "0",
       [](MemoryConfig* c) { c->meta_learning_rate = 0.0f; }},
      {"meta_learning_rate", "-0.01",
       [](MemoryConfig* c) { c->meta_learning_rate = -0.01f; }},
      {"meta_learning_rate", "nan",
       [](MemoryConfig* c) { c->meta_learning_rate = kNaN; }},
      {"meta_learning_rate", "inf",
       [](MemoryConfig* c) { c->meta_learning_rate = kInf; }},
      {"adam_beta1", "1", [](MemoryConfig* c) { c->adam_beta1 = 1.0f; }},
      {"adam_beta1", "-0.5", [](MemoryConfig* c) { c->adam_beta1 = -0.5f; }},
      {"adam_beta1", "nan", [](MemoryConfig* c) { c->adam_beta1 = kNaN; }},
      {"adam_beta2", "1", [](MemoryConfig* c) { c->adam_beta2 = 1.0f; }},
      {"adam_beta2", "1.5", [](MemoryConfig* c) { c->adam_beta2 = 1.5f; }},
      {"adam_beta2", "nan", [](MemoryConfig* c) { c->adam_beta2 = kNaN; }},
      {"adam_epsilon", "0", [](MemoryConfig* c) { c->adam_epsilon = 0.0f; }},
      {"adam_epsilon", "-1", [](MemoryConfig* c) { c->adam_epsilon = -1.0f; }},
      {"adam_epsilon", "nan", [](MemoryConfig* c) { c->adam_epsilon = kNaN; }},
      {"value_smoothing", "1",
       [](MemoryConfig* c) { c->value_smoothing = 1.0f; }},
      {"value_smoothing", "-0.125",
       [](MemoryConfig* c) { c->value_smoothing = -0.125f; }},
      {"value_smoothing", "nan",
       [](MemoryConfig* c) { c->value_smoothing = kNaN; }},
  };
}

TEST(ConfigTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidateConfig(MemoryConfig{}).ok());
}

TEST(ConfigTest, BoundaryValuesAreAccepted) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kEven;
  config.num_local_models = 2;
  config.lr_min = config.lr_max = config.initial_learning_rate = 0.5f;
  config.adam_beta1 = 0.0f;
  config.adam_beta2 = 0.0f;
  config.value_smoothing = 0.0f;
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);

  MemoryConfig log;
  log.center_layout = CenterLayout::kLogSpaced;
  log.num_local_models = 3;
  EXPECT_TRUE(ValidateConfig(log).ok()) << ValidateConfig(log);
  log.num_local_models = 4;
  EXPECT_FALSE(ValidateConfig(log).ok());
  log.center_layout = CenterLayout::kEven;
  EXPECT_TRUE(ValidateConfig(log).ok()) << ValidateConfig(log);
}

TEST(ConfigTest, EveryBadValueIsRefusedNamingFieldAndValue) {
  for (const BadValue& bad : BadValues()) {
    MemoryConfig config;
    bad.set(&config);
    const absl::Status status = ValidateConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << bad.field << " = " << bad.shown;
    const std::string message = absl::AsciiStrToLower(status.message());
    EXPECT_NE(message.find(bad.field), std::string::npos)
        << bad.field << " = " << bad.shown << ": " << status;
    EXPECT_NE(message.find(bad.shown), std::string::npos)
        << bad.field << " = " << bad.shown << ": " << status;
  }
}

TEST(ConfigTest, EnumNamesAreDistinct) {
  EXPECT_NE(CenterLayoutName(CenterLayout::kEven),
            CenterLayoutName(CenterLayout::kLogSpaced));
  EXPECT_NE(MetaOptimizerName(MetaOptimizerKind::kSgd),
            MetaOptimizerName(MetaOptimizerKind::kAdam));
  EXPECT_NE(ChangeRuleName(ChangeRule::kClampedProduct),
            ChangeRuleName(ChangeRule::kSign));
}

void ExpectSameConfig(const MemoryConfig& a, const MemoryConfig& b) {
  EXPECT_EQ(a.num_local_models, b.num_local_models);
  EXPECT_EQ(a.center_layout, b.center_layout);
  EXPECT_EQ(a.clip, b.clip);
  EXPECT_EQ(a.smallest_magnitude, b.smallest_magnitude);
  EXPECT_EQ(a.width_scale, b.width_scale);
  EXPECT_EQ(a.initial_learning_rate, b.initial_learning_rate);
  EXPECT_EQ(a.lr_min, b.lr_min);
  EXPECT_EQ(a.lr_max, b.lr_max);
  EXPECT_EQ(a.meta_optimizer, b.meta_optimizer);
  EXPECT_EQ(a.meta_learning_rate, b.meta_learning_rate);
  EXPECT_EQ(a.adam_beta1, b.adam_beta1);
  EXPECT_EQ(a.adam_beta2, b.adam_beta2);
  EXPECT_EQ(a.adam_epsilon, b.adam_epsilon);
  EXPECT_EQ(a.change_rule, b.change_rule);
  EXPECT_EQ(a.value_smoothing, b.value_smoothing);
}

TEST(ConfigProtoTest, UnsetFieldsTakeTheDefaults) {
  auto config = ConfigFromProto(v1::MemoryConfig{});
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectSameConfig(*config, MemoryConfig{});
}

TEST(ConfigProtoTest, SetFieldsAreTakenAndTheRestDefaulted) {
  v1::MemoryConfig proto;
  proto.set_num_local_models(8);
  proto.set_center_layout(v1::CENTER_LAYOUT_EVEN);
  proto.set_meta_optimizer(v1::META_OPTIMIZER_ADAM);
  proto.set_change_rule(v1::CHANGE_RULE_SIGN);
  proto.set_clip(50.0f);
  auto config = ConfigFromProto(proto);
  ASSERT_TRUE(config.ok()) << config.status();
  MemoryConfig expected;
  expected.num_local_models = 8;
  expected.center_layout = CenterLayout::kEven;
  expected.meta_optimizer = MetaOptimizerKind::kAdam;
  expected.change_rule = ChangeRule::kSign;
  expected.clip = 50.0f;
  ExpectSameConfig(*config, expected);
}

TEST(ConfigProtoTest, RoundTripsEveryField) {
  MemoryConfig config;
  config.num_local_models = 9;
  config.center_layout = CenterLayout::kEven;
  config.clip = 3.5f;
  config.smallest_magnitude = 1e-3f;
  config.width_scale = 0.75f;
  config.initial_learning_rate = 0.02f;
  config.lr_min = 1e-6f;
  config.lr_max = 0.5f;
  config.meta_optimizer = MetaOptimizerKind::kAdam;
  config.meta_learning_rate = 0.003f;
  config.adam_beta1 = 0.8f;
  config.adam_beta2 = 0.99f;
  config.adam_epsilon = 1e-6f;
  config.change_rule = ChangeRule::kSign;
  config.value_smoothing = 0.25f;
  const v1::MemoryConfig proto = ConfigToProto(config);
  EXPECT_TRUE(proto.has_num_local_models());
  EXPECT_TRUE(proto.has_value_smoothing());
  EXPECT_TRUE(proto.has_smallest_magnitude());
  EXPECT_TRUE(proto.has_adam_epsilon());
  EXPECT_EQ(proto.center_layout(), v1::CENTER_LAYOUT_EVEN);
  EXPECT_EQ(proto.meta_optimizer(), v1::META_OPTIMIZER_ADAM);
  EXPECT_EQ(proto.change_rule(), v1::CHANGE_RULE_SIGN);
  auto back = ConfigFromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameConfig(*back, config);
}

TEST(ConfigProtoTest, RefusesBadValuesNamingTheField) {
  v1::MemoryConfig proto;
  proto.set_width_scale(-1.0f);
  auto config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("width_scale"), std::string::npos)
      << config.status();

  proto.Clear();
  proto.set_adam_beta2(kNaN);
  config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("adam_beta2"), std::string::npos)
      << config.status();

  proto.Clear();
  proto.set_num_local_models(1);
  config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigProtoTest, RefusesCountsThatOverflowAnInt) {
  v1::MemoryConfig proto;
  proto.set_center_layout(v1::CENTER_LAYOUT_EVEN);
  proto.set_num_local_models(std::numeric_limits<uint32_t>::max());
  auto config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
      << (config.ok() ? std::to_string(config->num_local_models) : "");
  proto.set_num_local_models(0x80000001u);
  config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigProtoTest, RefusesUnknownEnumValues) {
  v1::MemoryConfig proto;
  proto.set_center_layout(static_cast<v1::CenterLayout>(7));
  auto config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("center_layout"), std::string::npos)
      << config.status();

  proto.Clear();
  proto.set_meta_optimizer(static_cast<v1::MetaOptimizer>(42));
  config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("meta_optimizer"), std::string::npos)
      << config.status();

  proto.Clear();
  proto.set_change_rule(static_cast<v1::ChangeRule>(-1));
  config = ConfigFromProto(proto);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("change_rule"), std::string::npos)
      << config.status();
}

}  // namespace
}  // namespace lrmem
