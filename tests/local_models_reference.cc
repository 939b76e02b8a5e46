#include "tests/local_models_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace lrmem {
namespace reference {

double Clip(double z, double clip) { return std::clamp(z, -clip, clip); }

double LogActivation(const LocalModels& models, int m, double z) {
  const double clip = models.config().clip;
  const double d = Clip(z, clip) - models.centers()[m];
  const double sigma = models.widths()[m];
  return -d * d / (2.0 * sigma * sigma);
}

double ReferenceRate(const LocalModels& models,
                     const std::vector<float>& values, double z,
                     double* sensitivity, double* cut_off) {
  double max_log = -std::numeric_limits<double>::infinity();
  for (int m = 0; m < models.size(); ++m) {
    max_log = std::max(max_log, LogActivation(models, m, z));
  }
  double num = 0, den = 0;
  for (int m = 0; m < models.size(); ++m) {
    const double w = std::exp(LogActivation(models, m, z) - max_log);
    num += w * values[m];
    den += w;
  }
  const double rate = num / den;
  if (sensitivity != nullptr) {
    double moved = 0, left_out = 0;
    for (int m = 0; m < models.size(); ++m) {
      const double log_psi = LogActivation(models, m, z);
      const double term =
          std::exp(log_psi - max_log) * std::abs(values[m] - rate);
      moved += term * (std::abs(log_psi) + 1);
      if (log_psi - max_log < -LocalModels::kWindowLogCutoff) {
        left_out += term;
      }
    }
    *sensitivity = moved / den;
    if (cut_off != nullptr) *cut_off = 2 * left_out / den;
  }
  return rate;
}

double Change(ChangeRule rule, double previous, double current) {
  const double product = previous * current;
  if (rule == ChangeRule::kSign) return (product > 0) - (product < 0);
  return std::clamp(product, -1.0, 1.0);
}

void ReferenceStatistic(const LocalModels& models,
                        const std::vector<float>& previous,
                        const std::vector<float>& current,
                        std::vector<double>* statistic,
                        std::vector<double>* scale,
                        std::vector<double>* cut_off) {
  const int size = models.size();
  statistic->assign(size, 0.0);
  scale->assign(size, 0.0);
  cut_off->assign(size, 0.0);
  std::vector<double> log_psi(size);
  for (size_t i = 0; i < previous.size(); ++i) {
    const double change =
        Change(models.config().change_rule, previous[i], current[i]);
    double max_log = -std::numeric_limits<double>::infinity();
    for (int m = 0; m < size; ++m) {
      log_psi[m] = LogActivation(models, m, previous[i]);
      max_log = std::max(max_log, log_psi[m]);
    }
    for (int m = 0; m < size; ++m) {
      const double psi = std::exp(log_psi[m]);
      (*statistic)[m] += change * psi;
      (*scale)[m] += std::abs(change) * psi;
      if (log_psi[m] - max_log < -LocalModels::kWindowLogCutoff) {
        (*cut_off)[m] += std::abs(change) * psi;
      }
    }
  }
  for (int m = 0; m < size; ++m) {
    (*statistic)[m] /= previous.size();
    (*scale)[m] /= previous.size();
    (*cut_off)[m] /= previous.size();
  }
}

std::shared_ptr<const LocalModels> MakeModels(const MemoryConfig& config) {
  auto models = LocalModels::Create(config);
  EXPECT_TRUE(models.ok()) << models.status();
  return models.ok() ? *models : nullptr;
}

MemoryConfig EvenConfig(int size, float clip, float width_scale) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kEven;
  config.num_local_models = size;
  config.clip = clip;
  config.width_scale = width_scale;
  return config;
}

MemoryConfig LogConfig(int size, float clip, float smallest,
                       float width_scale) {
  MemoryConfig config;
  config.center_layout = CenterLayout::kLogSpaced;
  config.num_local_models = size;
  config.clip = clip;
  config.smallest_magnitude = smallest;
  config.width_scale = width_scale;
  return config;
}
std::vector<float> SweepSignals(const LocalModels& models, std::mt19937* rng) {
  const float clip = models.config().clip;
  const float big = std::numeric_limits<float>::max();
  std::vector<float> signals = {0.0f,
                                -0.0f,
                                1e-44f,
                                1e-38f,
                                1e-30f,
                                1e-10f,
                                1e-6f,
                                models.config().smallest_magnitude,
                                clip,
                                std::nextafter(clip, 0.0f),
                                std::nextafter(clip, big),
                                2 * clip,
                                1e30f,
                                big};
  for (int m = 0; m < models.size(); ++m) {
    signals.push_back(models.centers()[m]);
    if (m + 1 < models.size()) {
      signals.push_back(0.5f * (models.centers()[m] + models.centers()[m + 1]));
      signals.push_back(0.3f * models.centers()[m] +
                        0.7f * models.centers()[m + 1]);
    }
  }
  std::uniform_real_distribution<float> linear(-1.2f * clip, 1.2f * clip);
  std::uniform_real_distribution<double> exponent(-9.0, 1.0);
  for (int i = 0; i < 1500; ++i) {
    signals.push_back(linear(*rng));
    signals.push_back(
        static_cast<float>(clip * std::pow(10.0, exponent(*rng))));
  }
  const size_t positive = signals.size();
  for (size_t i = 0; i < positive; ++i) signals.push_back(-signals[i]);
  return signals;
}

std::vector<MemoryConfig> SweepConfigs() {
  std::vector<MemoryConfig> layouts = {
      EvenConfig(21, 2.0f, 0.1f),        EvenConfig(8, 100.0f, 0.1f),
      EvenConfig(2, 1.0f, 0.1f),         LogConfig(21, 2.0f, 1e-4f, 0.1f),
      LogConfig(31, 10.0f, 1e-6f, 0.1f), LogConfig(5, 1.0f, 0.01f, 0.1f)};
  std::vector<MemoryConfig> configs;
  for (const MemoryConfig& layout : layouts) {
    for (float scale : {0.001f, 0.1f, 0.5f, 1.0f, 3.0f}) {
      MemoryConfig config = layout;
      config.width_scale = scale;
      configs.push_back(config);
    }
  }
  return configs;
}

std::vector<float> RandomValues(const MemoryConfig& config, int size,
                                std::mt19937* rng) {
  std::uniform_real_distribution<double> exponent(std::log(config.lr_min),
                                                  std::log(config.lr_max));
  std::vector<float> values(size);
  for (float& v : values) {
    v = std::clamp(static_cast<float>(std::exp(exponent(*rng))), config.lr_min,
                   config.lr_max);
  }
  // The extremes themselves.
  values[0] = config.lr_max;
  values[size - 1] = config.lr_min;
  return values;
}

}  // namespace reference
}  // namespace lrmem
