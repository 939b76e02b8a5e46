// LocalModels: the fixed part of a memory (centers and widths, derived from
// its config) and the two O(D * M) computations over a group's parameters:
// predicting learning rates, and forming the learning statistic.
//
// Both are evaluated exactly up to a cut-off: for every signal only the
// local models whose activation is within exp(-kWindowLogCutoff) of the
// largest one at that signal are evaluated (a fixed-length window of
// adjacent centers, looked up from the signal's floating-point bits). Each
// local model left out weighs less than exp(-20) = 2e-9 relative to the
// largest activation. A predicted rate is therefore off by at most
// (M - window) * 2e-9 * (lr_max - lr_min) in absolute terms: negligible
// next to lr_max, but a rate near lr_min beside values near lr_max can be
// off by a noticeable fraction of itself. Tests bound the difference to a
// full evaluation.
//
// Cost: a window of W local models costs W exponentials and W table
// lookups per signal in each of the two computations. On an AVX2 machine a
// full step (statistic, update, rates) takes about 12 ns per parameter
// with a window of 2, some 57 times a plain `w -= lr * g` pass
// (docs/benchmarks.md). TODO: closing that gap needs a cheaper evaluation,
// e.g. a per-step table of the rate curve over fine signal buckets and a
// histogram of change terms per bucket, each with a bounded, tested error.
//
// Thread-safety: immutable after Create; share freely across threads.

#ifndef LRMEM_COMMON_LOCAL_MODELS_H_
#define LRMEM_COMMON_LOCAL_MODELS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/memory_config.h"

namespace lrmem {

class LocalModels {
 public:
  // Activations smaller than exp(-kWindowLogCutoff) times the largest one
  // at the same signal are not evaluated.
  static constexpr double kWindowLogCutoff = 20.0;

  // Validates `config` (see ValidateConfig) and lays out the centers.
  static absl::StatusOr<std::shared_ptr<const LocalModels>> Create(
      const MemoryConfig& config);

  const MemoryConfig& config() const { return config_; }
  int size() const { return static_cast<int>(centers_.size()); }
  absl::Span<const float> centers() const { return centers_; }
  absl::Span<const float> widths() const { return widths_; }
  // Number of local models evaluated per signal.
  int window() const { return window_; }

  // psi_m(z) for the clipped signal, evaluated directly (no window).
  double Activation(int m, double signal) const;

  // rates[i] = eta(signals[i]) with the given values (one per local
  // model). Rates lie in [lr_min, lr_max] whenever the values do.
  // REQUIRES: values.size() == size(), rates.size() == signals.size(),
  // every signal finite (see CheckFinite).
  void PredictRates(absl::Span<const float> values,
                    absl::Span<const float> signals,
                    absl::Span<float> rates) const;

  // The learning statistic of one step of one group:
  //   statistic[m] = mean_i change(previous[i], current[i]) *
  //                  psi_m(previous[i])
  // with change() the config's ChangeRule applied to the raw signals (psi
  // clips its argument, change does not). Positive entries mean the rates
  // at those signals were too small. All zero when every change is zero.
  // REQUIRES: previous.size() == current.size(), statistic.size() ==
  // size(), all inputs finite.
  void ComputeStatistic(absl::Span<const float> previous,
                        absl::Span<const float> current,
                        absl::Span<float> statistic) const;

 private:
  explicit LocalModels(const MemoryConfig& config);
  void LayOutCenters();
  void BuildWindows();
  int BucketOf(float clipped_signal) const;

  MemoryConfig config_;
  std::vector<float> centers_;
  std::vector<float> widths_;
  // -1 / (2 sigma_m^2), per local model.
  std::vector<float> neg_half_precision_;
  // For every bucket of signals, the first local model of its window.
  std::vector<int32_t> window_start_;
  int window_ = 0;
  // Signals with |z| below this fall in the first bucket of their sign.
  uint32_t bucket_base_ = 0;
  int buckets_per_sign_ = 0;
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_LOCAL_MODELS_H_
