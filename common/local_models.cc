#include "common/local_models.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/signal_kernels.h"

namespace lrmem {
namespace {

using kernels::BitsFloat;
using kernels::Change;
using kernels::Clip;
using kernels::FloatBits;

// Signals are processed in blocks of at most kBlock, so that per-block
// scratch lives on the stack and the inner loops run over contiguous
// arrays. A block keeps one row of kBlock floats per window slot; blocks
// shrink for wide windows so that this scratch stays within kScratch.
constexpr int kBlock = 256;
constexpr int kScratch = 16 * kBlock;

int BlockSize(int window) {
  return std::max(1, std::min(kBlock, kScratch / window));
}

// Buckets split each binade of |signal| into 2^(23 - kBucketShift) parts.
constexpr int kBucketShift = 16;

// Statistic accumulators interleave across this many banks so that
// consecutive parameters landing on the same local model do not form one
// long chain of dependent additions.
constexpr int kBanks = 4;
constexpr int kStackModels = 256;

// Groups are evaluated on the grid when they have at least this many
// parameters and at least the grid's node count divided by
// kGridSignalsPerNode: below that, the grid's per-call tables cost more
// than evaluating the window exactly (measured with core_benchmark).
constexpr size_t kGridMinSignals = 2048;
constexpr size_t kGridSignalsPerNode = 4;

// The narrowest local model may be at most this many times narrower than
// clip. Signals are bucketed per octave of |z| from far below the narrowest
// width up to clip, so this bounds the tables' size and their build time.
constexpr double kMaxClipPerWidth = 0x1p48;

// Every field, exactly, as a string: configs with the same key lay out the
// same local models.
std::string CacheKey(const MemoryConfig& c) {
  return absl::StrCat(
      c.num_local_models, ",", static_cast<int>(c.center_layout), ",",
      FloatBits(c.clip), ",", FloatBits(c.smallest_magnitude), ",",
      FloatBits(c.width_scale), ",", FloatBits(c.initial_learning_rate), ",",
      FloatBits(c.lr_min), ",", FloatBits(c.lr_max), ",",
      static_cast<int>(c.meta_optimizer), ",", FloatBits(c.meta_learning_rate),
      ",", FloatBits(c.adam_beta1), ",", FloatBits(c.adam_beta2), ",",
      FloatBits(c.adam_epsilon), ",", static_cast<int>(c.change_rule), ",",
      FloatBits(c.value_smoothing));
}

// exp(x) for x <= 0 in float, within about two ulp, and 0 below the
// smallest normal result. Written without branches or library calls so
// that loops over it vectorize; no fused multiply-adds are used (see the
// build flags), so every build computes the same bits.
inline float ExpNonPositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
  const bool underflow = x < -87.0f;
  x = x < -87.0f ? -87.0f : x;
  // x = n ln2 + r with n integral and |r| <= ln2 / 2.
  const float n = (x * kLog2e + kRoundMagic) - kRoundMagic;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  // Taylor series of e^r to degree 6: error below 1.2e-7 relative.
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t exponent = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &exponent, sizeof(scale));
  return underflow ? 0.0f : p * scale;
}

// The hot loops (LRMEM_MULTIVERSION: compiled for AVX2 and baseline
// x86-64). Pointers are __restrict and tables are passed by value so that
// the loops vectorize.
struct Tables {
  const float* centers;
  const float* neg_half_precision;
  const int32_t* window_start;
  int window;
  int buckets_per_sign;
  uint32_t bucket_base;
  float clip;
};

// clipped[i] = clip(signal[i]); start[i] = first local model of its window.
// Clipping bounds the bucket from above; negative offsets (|z| below the
// first bucket's edge) are masked to the first bucket.
LRMEM_MULTIVERSION
void ClipAndLocate(Tables t, const float* __restrict signal, int n,
                   float* __restrict clipped, int32_t* __restrict start) {
  const int32_t base = static_cast<int32_t>(t.bucket_base);
  const int32_t per_sign = t.buckets_per_sign;
  const int32_t* __restrict window_start = t.window_start;
  const float clip = t.clip;
  for (int i = 0; i < n; ++i) {
    const float z = Clip(signal[i], clip);
    clipped[i] = z;
    int32_t bits;
    std::memcpy(&bits, &z, sizeof(bits));
    int32_t b = ((bits & 0x7FFFFFFF) >> kBucketShift) - base;
    b &= ~(b >> 31);
    b += ((bits >> 31) & 1) * per_sign;
    start[i] = window_start[b];
  }
}

// rates[i] = eta(z[i]). `log_activation` is scratch of window rows of
// `stride` floats.
LRMEM_MULTIVERSION
void PredictBlock(Tables t, const float* __restrict values,
                  const float* __restrict z, const int32_t* __restrict start,
                  int n, int stride, float lr_min, float lr_max,
                  float* __restrict log_activation, float* __restrict rates) {
  const float* __restrict centers = t.centers;
  const float* __restrict precision = t.neg_half_precision;
  float max_log[kBlock], numerator[kBlock], denominator[kBlock];
  for (int i = 0; i < n; ++i) max_log[i] = -std::numeric_limits<float>::max();
  for (int k = 0; k < t.window; ++k) {
    float* __restrict row = log_activation + k * stride;
    for (int i = 0; i < n; ++i) {
      const int32_t m = start[i] + k;
      const float d = z[i] - centers[m];
      const float e = precision[m] * d * d;
      row[i] = e;
      max_log[i] = e > max_log[i] ? e : max_log[i];
    }
  }
  for (int i = 0; i < n; ++i) numerator[i] = denominator[i] = 0.0f;
  for (int k = 0; k < t.window; ++k) {
    const float* __restrict row = log_activation + k * stride;
    for (int i = 0; i < n; ++i) {
      const float w = ExpNonPositive(row[i] - max_log[i]);
      numerator[i] += w * values[start[i] + k];
      denominator[i] += w;
    }
  }
  // The largest activation contributes exactly 1 to the denominator, so
  // it is never zero even where every raw activation underflows.
  for (int i = 0; i < n; ++i) {
    const float rate = numerator[i] / denominator[i];
    rates[i] = rate < lr_min ? lr_min : (rate > lr_max ? lr_max : rate);
  }
}

// weighted[k * stride + i] = change_i * psi_{start[i] + k}(z[i]).
LRMEM_MULTIVERSION
void ActivationBlock(Tables t, const float* __restrict z,
                     const int32_t* __restrict start,
                     const float* __restrict change, int n, int stride,
                     float* __restrict weighted) {
  const float* __restrict centers = t.centers;
  const float* __restrict precision = t.neg_half_precision;
  for (int k = 0; k < t.window; ++k) {
    float* __restrict out = weighted + k * stride;
    for (int i = 0; i < n; ++i) {
      const int32_t m = start[i] + k;
      const float d = z[i] - centers[m];
      out[i] = change[i] * ExpNonPositive(precision[m] * d * d);
    }
  }
}

}  // namespace

LocalModels::LocalModels(const MemoryConfig& config) : config_(config) {}

absl::StatusOr<std::shared_ptr<const LocalModels>> LocalModels::Create(
    const MemoryConfig& config) {
  absl::Status valid = ValidateConfig(config);
  if (!valid.ok()) return valid;

  // Memories with the same config share one instance, and its grid.
  static absl::Mutex cache_mu(absl::kConstInit);
  static auto* cache =
      new absl::flat_hash_map<std::string, std::weak_ptr<const LocalModels>>();
  const std::string key = CacheKey(config);
  {
    absl::MutexLock lock(&cache_mu);
    auto it = cache->find(key);
    if (it != cache->end()) {
      if (std::shared_ptr<const LocalModels> models = it->second.lock()) {
        return models;
      }
    }
  }

  // Built outside the lock: an unusual config can take a while.
  std::shared_ptr<LocalModels> built(new LocalModels(config));
  built->LayOutCenters();
  absl::Status span = built->CheckWidths();
  if (!span.ok()) return span;
  built->BuildWindows();

  absl::MutexLock lock(&cache_mu);
  std::weak_ptr<const LocalModels>& entry = (*cache)[key];
  std::shared_ptr<const LocalModels> models = entry.lock();
  if (models == nullptr) {
    models = std::move(built);
    entry = models;
  }
  if (cache->size() > 64 && cache->size() % 64 == 0) {
    absl::erase_if(*cache,
                   [](const auto& item) { return item.second.expired(); });
  }
  return models;
}

absl::Status LocalModels::CheckWidths() const {
  const auto [narrowest, widest] =
      std::minmax_element(widths_.begin(), widths_.end());
  const double clip = config_.clip;
  if (!std::isfinite(*widest)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory config: width_scale = ", config_.width_scale,
        " makes the widest local model infinitely wide; lower width_scale"));
  }
  if (!(*narrowest > 0.0f) || clip / *narrowest > kMaxClipPerWidth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory config: width_scale = ", config_.width_scale,
        ", smallest_magnitude = ", config_.smallest_magnitude, " and clip = ",
        config_.clip, " make the narrowest local model ", *narrowest,
        " wide, more than 2^48 times narrower than clip; raise "
        "width_scale or smallest_magnitude, or lower clip"));
  }
  return absl::OkStatus();
}

void LocalModels::LayOutCenters() {
  const int count = config_.num_local_models;
  const double clip = config_.clip;
  std::vector<double> centers(count);
  if (config_.center_layout == CenterLayout::kEven) {
    const double spacing = 2.0 * clip / (count - 1);
    for (int m = 0; m < count; ++m) centers[m] = -clip + m * spacing;
    centers[count - 1] = clip;
  } else {
    const int side = (count - 1) / 2;
    const double smallest = side == 1 ? clip : config_.smallest_magnitude;
    for (int i = 0; i < side; ++i) {
      const double fraction = side == 1 ? 0.0 : double(i) / (side - 1);
      const double magnitude =
          i == side - 1 ? clip : smallest * std::pow(clip / smallest, fraction);
      centers[side + 1 + i] = magnitude;
      centers[side - 1 - i] = -magnitude;
    }
    centers[side] = 0.0;
  }

  // Each width follows the mean distance to the neighbouring centers.
  centers_.resize(count);
  widths_.resize(count);
  neg_half_precision_.resize(count);
  for (int m = 0; m < count; ++m) {
    const double left = m > 0 ? centers[m] - centers[m - 1] : -1.0;
    const double right = m + 1 < count ? centers[m + 1] - centers[m] : -1.0;
    const double spacing = left < 0    ? right
                           : right < 0 ? left
                                       : 0.5 * (left + right);
    const double width = config_.width_scale * spacing;
    centers_[m] = static_cast<float>(centers[m]);
    widths_[m] = static_cast<float>(width);
    neg_half_precision_[m] = static_cast<float>(-0.5 / (width * width));
  }
}

double LocalModels::Activation(int m, double signal) const {
  const double z =
      std::clamp(signal, -double(config_.clip), double(config_.clip));
  const double d = (z - centers_[m]) / widths_[m];
  return std::exp(-0.5 * d * d);
}

void LocalModels::BuildWindows() {
  const int count = size();
  // Buckets start where |z| is far below the narrowest width, so that the
  // first bucket of each sign behaves like z = 0.
  const float narrowest = *std::min_element(widths_.begin(), widths_.end());
  const float tiny =
      std::max(narrowest * 0x1p-12f, std::numeric_limits<float>::min());
  bucket_base_ = FloatBits(tiny) >> kBucketShift;
  buckets_per_sign_ =
      static_cast<int>((FloatBits(config_.clip) >> kBucketShift) -
                       bucket_base_) +
      1;

  // For every bucket, the range of local models that matter anywhere in
  // it, found by sampling the bucket densely in double precision.
  constexpr int kSamples = 33;
  const int buckets = 2 * buckets_per_sign_;
  std::vector<int> low(buckets), high(buckets);
  std::vector<double> log_activation(count);
  window_ = 1;
  for (int b = 0; b < buckets; ++b) {
    const int index = b % buckets_per_sign_;
    const double sign = b < buckets_per_sign_ ? 1.0 : -1.0;
    const double from =
        index == 0 ? 0.0 : BitsFloat((bucket_base_ + index) << kBucketShift);
    const double to = std::min<double>(
        config_.clip, BitsFloat((bucket_base_ + index + 1) << kBucketShift));
    low[b] = count;
    high[b] = -1;
    for (int s = 0; s < kSamples; ++s) {
      const double z = sign * (from + (to - from) * s / (kSamples - 1));
      double best = -std::numeric_limits<double>::infinity();
      for (int m = 0; m < count; ++m) {
        const double d = (z - centers_[m]) / widths_[m];
        log_activation[m] = -0.5 * d * d;
        best = std::max(best, log_activation[m]);
      }
      for (int m = 0; m < count; ++m) {
        if (log_activation[m] >= best - kWindowLogCutoff) {
          low[b] = std::min(low[b], m);
          high[b] = std::max(high[b], m);
        }
      }
    }
    window_ = std::max(window_, high[b] - low[b] + 1);
  }
  window_start_.resize(buckets);
  for (int b = 0; b < buckets; ++b) {
    window_start_[b] = std::min(low[b], count - window_);
  }
}

const SignalGrid* LocalModels::grid() const {
  absl::call_once(grid_once_, [this] {
    grid_ = SignalGrid::Create(config_.center_layout, centers_, widths_,
                               config_.clip, kWindowLogCutoff);
  });
  return grid_.get();
}

bool LocalModels::UsesGrid(size_t size) const {
  if (size < kGridMinSignals) return false;
  const SignalGrid* table = grid();
  return table != nullptr &&
         size * kGridSignalsPerNode >= static_cast<size_t>(table->nodes());
}

int LocalModels::BucketOf(float clipped_signal) const {
  const uint32_t bits = FloatBits(clipped_signal);
  int b = static_cast<int>((bits & 0x7FFFFFFFu) >> kBucketShift) -
          static_cast<int>(bucket_base_);
  b = std::clamp(b, 0, buckets_per_sign_ - 1);
  return b + static_cast<int>(bits >> 31) * buckets_per_sign_;
}

void LocalModels::PredictRates(absl::Span<const float> values,
                               absl::Span<const float> signals,
                               absl::Span<float> rates,
                               Evaluation evaluation) const {
  if (evaluation == Evaluation::kAuto && UsesGrid(signals.size())) {
    grid()->PredictRates(values, signals, config_.lr_min, config_.lr_max,
                         rates);
    return;
  }
  const Tables tables{centers_.data(),      neg_half_precision_.data(),
                      window_start_.data(), window_,
                      buckets_per_sign_,    bucket_base_,
                      config_.clip};
  const int block = BlockSize(window_);
  float clipped[kBlock], scratch[kScratch];
  int32_t start[kBlock];
  const size_t total = signals.size();
  for (size_t from = 0; from < total; from += block) {
    const int n = static_cast<int>(std::min<size_t>(block, total - from));
    ClipAndLocate(tables, signals.data() + from, n, clipped, start);
    PredictBlock(tables, values.data(), clipped, start, n, block,
                 config_.lr_min, config_.lr_max, scratch, rates.data() + from);
  }
}

void LocalModels::ComputeStatistic(absl::Span<const float> previous,
                                   absl::Span<const float> current,
                                   absl::Span<float> statistic,
                                   Evaluation evaluation) const {
  if (evaluation == Evaluation::kAuto && UsesGrid(previous.size())) {
    grid()->ComputeStatistic(config_.change_rule, previous, current, statistic);
    return;
  }
  const Tables tables{centers_.data(),      neg_half_precision_.data(),
                      window_start_.data(), window_,
                      buckets_per_sign_,    bucket_base_,
                      config_.clip};
  const int count = size();
  double stack_sums[kBanks * kStackModels];
  std::vector<double> heap_sums;
  double* sums = stack_sums;
  if (count > kStackModels) {
    heap_sums.resize(static_cast<size_t>(kBanks) * count);
    sums = heap_sums.data();
  }
  std::fill(sums, sums + kBanks * count, 0.0);

  const int block = BlockSize(window_);
  float clipped[kBlock], change[kBlock], weighted[kScratch];
  int32_t start[kBlock];

  const size_t total = previous.size();
  for (size_t from = 0; from < total; from += block) {
    const int n = static_cast<int>(std::min<size_t>(block, total - from));
    ClipAndLocate(tables, previous.data() + from, n, clipped, start);
    for (int i = 0; i < n; ++i) {
      change[i] =
          Change(config_.change_rule, previous[from + i], current[from + i]);
    }
    ActivationBlock(tables, clipped, start, change, n, block, weighted);
    for (int k = 0; k < window_; ++k) {
      const float* row = weighted + k * block;
      for (int i = 0; i < n; ++i) {
        sums[(i % kBanks) * count + start[i] + k] += row[i];
      }
    }
  }

  const double scale = total == 0 ? 0.0 : 1.0 / static_cast<double>(total);
  for (int m = 0; m < count; ++m) {
    double sum = 0.0;
    for (int bank = 0; bank < kBanks; ++bank) sum += sums[bank * count + m];
    statistic[m] = static_cast<float>(sum * scale);
  }
}

}  // namespace lrmem
