// LocalModels: the fixed part of a memory (centers and widths, derived from
// its config) and the two O(D * M) computations over a group's parameters:
// predicting learning rates, and forming the learning statistic.
//
// Two ways to evaluate them, chosen per call by the number of parameters:
//
// Exact, for small groups: for every signal only the local models whose
// activation is within exp(-kWindowLogCutoff) of the largest one at that
// signal are evaluated (a fixed-length window of adjacent centers, looked
// up from the signal's floating-point bits). Each local model left out
// weighs less than exp(-20) = 2e-9 relative to the largest activation. A
// predicted rate is therefore off by at most (M - window) * 2e-9 *
// (lr_max - lr_min) in absolute terms: negligible next to lr_max, but a
// rate near lr_min beside values near lr_max can be off by a noticeable
// fraction of itself. Cost: W exponentials and W table lookups per signal
// for a window of W local models, about 9 ns per parameter for a full step
// with the even layout (W = 2) and 31 ns with the default log-spaced one
// (W = 8) on an AVX2 machine.
//
// On a grid, for large groups (UsesGrid): the rate curve and the
// activations tabulated at fine nodes of the signal axis and interpolated
// between them (SignalGrid). A rate is then off by at most 1e-3 times the
// spread of the group's values, and a statistic entry by at most 1e-3
// times the mean |change term|, on top of the exact evaluation's error.
// Cost: a few ns per parameter plus a fixed part per call proportional to
// the grid's node count (docs/benchmarks.md has the figures). Configs for
// which no grid meets that tolerance (local models much narrower than
// their spacing) are always evaluated exactly.
//
// Either way the result depends only on the config, the inputs and the
// number of parameters, never on the CPU, so a client predicting locally
// and a server answering the same inputs agree bit for bit.
//
// Thread-safety: immutable after Create; share freely across threads.

#ifndef LRMEM_COMMON_LOCAL_MODELS_H_
#define LRMEM_COMMON_LOCAL_MODELS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/memory_config.h"
#include "common/signal_grid.h"

namespace lrmem {

class LocalModels {
 public:
  // Activations smaller than exp(-kWindowLogCutoff) times the largest one
  // at the same signal are not evaluated.
  static constexpr double kWindowLogCutoff = 20.0;

  // Validates `config` (see ValidateConfig) and lays out the centers.
  // INVALID_ARGUMENT also when the layout's narrowest local model is more
  // than 2^48 times narrower than clip, or the widest is infinitely wide.
  // Calls with equal configs share one instance while any of them lives.
  // Thread-safe.
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

  // How PredictRates and ComputeStatistic evaluate: kAuto on the grid
  // where UsesGrid says so and exactly otherwise, kExact always exactly.
  enum class Evaluation { kAuto, kExact };

  // The tabulated rate curve and activations, built on first use (tens of
  // milliseconds for the default config); null when no grid meets
  // SignalGrid's tolerance for this config. Thread-safe.
  const SignalGrid* grid() const;
  // Whether kAuto evaluates a group of `size` parameters on the grid: when
  // the group has at least 2048 parameters and at least a quarter as many
  // as the grid has nodes, below which the grid's per-call tables cost
  // more than the exact evaluation. Builds the grid when the size passes
  // the first test.
  bool UsesGrid(size_t size) const;

  // rates[i] = eta(signals[i]) with the given values (one per local
  // model). Rates lie in [lr_min, lr_max] whenever the values do.
  // REQUIRES: values.size() == size(), rates.size() == signals.size(),
  // every signal finite (see CheckFinite).
  void PredictRates(absl::Span<const float> values,
                    absl::Span<const float> signals, absl::Span<float> rates,
                    Evaluation evaluation = Evaluation::kAuto) const;

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
                        absl::Span<float> statistic,
                        Evaluation evaluation = Evaluation::kAuto) const;

 private:
  explicit LocalModels(const MemoryConfig& config);
  void LayOutCenters();
  absl::Status CheckWidths() const;
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

  // Built by grid() on first use.
  mutable absl::once_flag grid_once_;
  mutable std::unique_ptr<const SignalGrid> grid_;
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_LOCAL_MODELS_H_
