// SignalGrid: the rate curve and the activations of a memory's local models
// tabulated on a fine grid of signal values, so that the rates and the
// learning statistic of a large group cost a table lookup per parameter
// instead of a window of exponentials.
//
// The grid depends on the center layout:
//   - log-spaced centers: nodes at zero and, on each side of it, at equally
//     spaced points of every binary octave [2^e, 2^(e+1)) of |z| from
//     `tiny` (a power of two well below the narrowest width) to past the
//     clip range. These are exactly the floats of those magnitudes whose
//     low mantissa bits are zero, so a signal's node and its position
//     between two nodes come straight from its float bits, and the spacing
//     grows with |z| as the widths do;
//   - evenly spaced centers: nodes evenly spaced over [-clip, clip].
//
// The approximation. Between two neighbouring nodes, a rate is the linear
// interpolation of the exact rates at the two nodes, and the statistic
// splits each parameter's change term between its two nodes in proportion,
// which is the same as interpolating every activation linearly. Create
// picks the coarsest resolution for which, at three points inside every
// interval between nodes (a quarter, half and three quarters of the way):
//   - the normalized weights psi_m(z) / sum_n psi_n(z) differ from their
//     interpolation by at most kTolerance in L1 norm;
//   - no activation differs from its interpolation by more than
//     kTolerance.
// Between the checked points the error can be larger than at them, so the
// bounds allow for twice the checked value. A rate is a weighted mean of
// the values, so its error is at most kTolerance times the spread of the
// group's values (largest minus smallest; half the L1 error times the
// spread), and an entry of the statistic is off by at most kTolerance
// times the mean |change term| of the group. Over the configs the tests
// sweep, with tens of thousands of random signals each, the largest errors
// seen were 0.46 and 0.003 of these bounds, which the tests assert.
//
// Where no resolution within kMaxNodes meets the tolerance (local models
// much narrower than their spacing), there is no grid and the exact
// evaluation is used for every size.
//
// Cost: building the rate table costs nodes * window multiply-adds per
// call, and so does reading the statistic off the node sums; each parameter
// then costs a few integer operations and two table reads. LocalModels uses
// the grid only for groups large enough to repay that.
//
// Thread-safety: immutable after Create; share freely across threads. The
// computations keep their scratch per thread.

#ifndef LRMEM_COMMON_SIGNAL_GRID_H_
#define LRMEM_COMMON_SIGNAL_GRID_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "common/memory_config.h"

namespace lrmem {

class SignalGrid {
 public:
  // Largest error allowed of the interpolated normalized weights (L1) and
  // of every interpolated activation; see the file comment.
  static constexpr double kTolerance = 1e-3;
  // Most nodes (both sides together) a grid may have, and most entries
  // (nodes times local models kept per node) in each of its two tables.
  static constexpr int kMaxNodes = 1 << 17;
  static constexpr size_t kMaxTableEntries = size_t{1} << 21;

  // The grid for these local models, or null when none within kMaxNodes
  // meets kTolerance. `log_cutoff`: at each node, local models whose
  // activation is below exp(-log_cutoff) times the largest are left out,
  // as the exact evaluation does. REQUIRES: centers and widths of the same
  // size, sorted centers, positive widths, clip > 0.
  static std::unique_ptr<const SignalGrid> Create(
      CenterLayout layout, absl::Span<const float> centers,
      absl::Span<const float> widths, float clip, double log_cutoff);

  CenterLayout layout() const { return layout_; }
  int nodes() const { return static_cast<int>(start_.size()); }
  // Log-spaced layout: nodes per octave of |z|. Even layout: nodes per unit
  // of signal.
  double resolution() const;
  // Local models stored per node.
  int window() const { return window_; }
  // The largest errors Create measured (each at most kTolerance).
  double weight_error() const { return weight_error_; }
  double activation_error() const { return activation_error_; }

  // rates[i] = the interpolated eta(signals[i]), clamped into
  // [lr_min, lr_max]. REQUIRES: values has one entry per local model,
  // rates.size() == signals.size(), every signal finite.
  void PredictRates(absl::Span<const float> values,
                    absl::Span<const float> signals, float lr_min, float lr_max,
                    absl::Span<float> rates) const;

  // statistic[m] = mean_i change(previous[i], current[i]) * interpolated
  // psi_m(previous[i]). REQUIRES: previous.size() == current.size(),
  // statistic has one entry per local model, all inputs finite.
  void ComputeStatistic(ChangeRule rule, absl::Span<const float> previous,
                        absl::Span<const float> current,
                        absl::Span<float> statistic) const;

 private:
  SignalGrid() = default;
  // Lays out the nodes at a resolution (`shift`: for log-spaced centers,
  // 2^(23 - shift) nodes per octave; for even ones, 2^(23 - shift) nodes
  // over the clip range), fills the tables and measures the errors. False,
  // as soon as it is known, when the grid would exceed kMaxNodes or misses
  // kTolerance.
  bool Build(absl::Span<const float> centers, absl::Span<const float> widths,
             double log_cutoff, int shift);
  // The signal at a node, and whether the next node continues its run (the
  // two sides of the log-spaced grid are separate runs).
  double NodeSignal(int node) const;
  bool LastOfRun(int node) const;
  // For each of n signals, the node at or below it (towards zero on the
  // log-spaced grid) and its position towards the next node, in [0, 1].
  void Locate(const float* signals, int n, int32_t* node,
              float* fraction) const;

  CenterLayout layout_ = CenterLayout::kLogSpaced;
  int num_models_ = 0;
  float clip_ = 0.0f;
  int shift_ = 0;
  // Log-spaced: node 0 of each side at 0, node j >= 1 at the float whose
  // bits are tiny_bits_ + ((j - 1) << shift_); the negative side follows
  // the positive one.
  uint32_t tiny_bits_ = 0;
  float inverse_tiny_ = 0.0f;
  int nodes_per_side_ = 0;
  // Even: node j at -clip + j * spacing_.
  double spacing_ = 0.0;
  float inverse_spacing_ = 0.0f;
  int window_ = 0;
  // Per node: the first local model of its window, the activations
  // relative to the largest one at the node (for rates), and the
  // activations themselves (for the statistic), node-major.
  std::vector<int32_t> start_;
  std::vector<float> relative_;
  std::vector<float> absolute_;
  double weight_error_ = 0.0;
  double activation_error_ = 0.0;
};

}  // namespace lrmem

#endif  // LRMEM_COMMON_SIGNAL_GRID_H_
