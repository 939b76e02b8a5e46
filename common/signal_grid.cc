#include "common/signal_grid.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/signal_kernels.h"

namespace lrmem {
namespace {

using kernels::BitsFloat;
using kernels::Change;
using kernels::Clip;
using kernels::FloatBits;

// Resolutions tried, coarsest first: 2^(23 - shift) nodes per octave of
// |z| (log-spaced) or over the whole clip range (even). kMaxNodes ends the
// search before the finest of them.
constexpr int kCoarsestShift = 23 - 6;
constexpr int kFinestShift = 23 - 17;

// tiny is at most the narrowest width divided by this, so that below it
// every activation is flat enough to interpolate between 0 and tiny.
constexpr float kTinyPerWidth = 32.0f;

// Parameters are located in blocks of this many, so that per-block scratch
// lives on the stack.
constexpr int kBlock = 256;

// The largest power of two not above x, for 0 < x < FLT_MAX.
float PowerOfTwoBelow(float x) { return BitsFloat(FloatBits(x) & 0x7F800000u); }

// Exact normalized weights and activations of every local model at z.
// Local models whose activation is below exp(-kNegligibleLog) of the
// largest count as zero there: that is far below any tolerance here, and
// saves most of the exponentials.
constexpr double kNegligibleLog = 40.0;

void ExactAt(absl::Span<const float> centers, absl::Span<const float> widths,
             double z, std::vector<double>* weights,
             std::vector<double>* activations) {
  const size_t count = centers.size();
  double max_log = -std::numeric_limits<double>::infinity();
  std::vector<double>& log_psi = *activations;
  for (size_t m = 0; m < count; ++m) {
    const double d = (z - centers[m]) / widths[m];
    log_psi[m] = -0.5 * d * d;
    max_log = std::max(max_log, log_psi[m]);
  }
  double sum = 0.0;
  for (size_t m = 0; m < count; ++m) {
    const double relative = log_psi[m] - max_log;
    (*weights)[m] = relative < -kNegligibleLog ? 0.0 : std::exp(relative);
    log_psi[m] = relative < -kNegligibleLog ? 0.0 : std::exp(log_psi[m]);
    sum += (*weights)[m];
  }
  for (size_t m = 0; m < count; ++m) (*weights)[m] /= sum;
}

struct Lookup {
  // Log-spaced grid.
  uint32_t tiny_bits;
  float inverse_tiny;
  int shift;
  int nodes_per_side;
  // Even grid.
  float inverse_spacing;
  int last_interval;
  float clip;
};

// For each signal, the node at or below its clipped value on the log-spaced
// grid (offset by nodes_per_side on the negative side) and its position
// towards the next node away from zero, in [0, 1).
LRMEM_MULTIVERSION
void LocateOnOctaves(Lookup t, const float* __restrict signal, int n,
                     int32_t* __restrict node, float* __restrict fraction) {
  const int32_t tiny_bits = static_cast<int32_t>(t.tiny_bits);
  const int32_t mask = (int32_t{1} << t.shift) - 1;
  const float step = BitsFloat((127u - t.shift) << 23);  // 2^-shift
  for (int i = 0; i < n; ++i) {
    const float z = Clip(signal[i], t.clip);
    int32_t bits;
    std::memcpy(&bits, &z, sizeof(bits));
    const int32_t above = (bits & 0x7FFFFFFF) - tiny_bits;
    const float magnitude = z < 0.0f ? -z : z;
    const bool below = above < 0;
    const int32_t index = below ? 0 : 1 + (above >> t.shift);
    node[i] = index + ((bits >> 31) & 1) * t.nodes_per_side;
    fraction[i] = below ? magnitude * t.inverse_tiny
                        : static_cast<float>(above & mask) * step;
  }
}

// The same on the even grid: the node at or below the clipped signal.
LRMEM_MULTIVERSION
void LocateEvenly(Lookup t, const float* __restrict signal, int n,
                  int32_t* __restrict node, float* __restrict fraction) {
  for (int i = 0; i < n; ++i) {
    const float position =
        (Clip(signal[i], t.clip) + t.clip) * t.inverse_spacing;
    int32_t index = static_cast<int32_t>(position);
    index = index > t.last_interval ? t.last_interval : index;
    node[i] = index;
    fraction[i] = position - static_cast<float>(index);
  }
}

// rates[i] = table[2 n] + f * table[2 n + 1], clamped.
LRMEM_MULTIVERSION
void Interpolate(const float* __restrict table, const int32_t* __restrict node,
                 const float* __restrict fraction, int n, float lr_min,
                 float lr_max, float* __restrict rates) {
  for (int i = 0; i < n; ++i) {
    const float rate =
        table[2 * node[i]] + fraction[i] * table[2 * node[i] + 1];
    rates[i] = rate < lr_min ? lr_min : (rate > lr_max ? lr_max : rate);
  }
}

// numerator[n] = sum_k relative[k][n] * values[start[n] + k] and
// denominator[n] = sum_k relative[k][n], for every node n.
LRMEM_MULTIVERSION
void RatesAtNodes(const float* __restrict relative,
                  const int32_t* __restrict start,
                  const float* __restrict values, int nodes, int window,
                  float* __restrict numerator, float* __restrict denominator) {
  for (int n = 0; n < nodes; ++n) numerator[n] = denominator[n] = 0.0f;
  for (int k = 0; k < window; ++k) {
    const float* __restrict row = relative + static_cast<size_t>(k) * nodes;
    for (int n = 0; n < nodes; ++n) {
      numerator[n] += row[n] * values[start[n] + k];
      denominator[n] += row[n];
    }
  }
}

LRMEM_MULTIVERSION
void Changes(ChangeRule rule, const float* __restrict previous,
             const float* __restrict current, int n, float* __restrict out) {
  for (int i = 0; i < n; ++i) out[i] = Change(rule, previous[i], current[i]);
}

}  // namespace

std::unique_ptr<const SignalGrid> SignalGrid::Create(
    CenterLayout layout, absl::Span<const float> centers,
    absl::Span<const float> widths, float clip, double log_cutoff) {
  for (int shift = kCoarsestShift; shift >= kFinestShift; --shift) {
    std::unique_ptr<SignalGrid> grid(new SignalGrid());
    grid->layout_ = layout;
    grid->clip_ = clip;
    if (grid->Build(centers, widths, log_cutoff, shift)) return grid;
    // Finer grids have more nodes and windows at least as wide: once a
    // size limit is hit, every finer grid would hit it too.
    if (grid->nodes() > kMaxNodes ||
        static_cast<size_t>(grid->window()) * grid->nodes() >
            kMaxTableEntries) {
      break;
    }
  }
  return nullptr;
}

double SignalGrid::resolution() const {
  const double nodes = std::ldexp(1.0, 23 - shift_);
  return layout_ == CenterLayout::kLogSpaced ? nodes : nodes / (2.0 * clip_);
}

double SignalGrid::NodeSignal(int node) const {
  if (layout_ == CenterLayout::kEven) {
    return node == nodes() - 1 ? clip_ : -clip_ + node * spacing_;
  }
  const int index = node % nodes_per_side_;
  const double sign = node < nodes_per_side_ ? 1.0 : -1.0;
  if (index == 0) return 0.0;
  return sign *
         BitsFloat(tiny_bits_ + (static_cast<uint32_t>(index - 1) << shift_));
}

bool SignalGrid::LastOfRun(int node) const {
  return layout_ == CenterLayout::kEven ? node == nodes() - 1
                                        : (node + 1) % nodes_per_side_ == 0;
}

bool SignalGrid::Build(absl::Span<const float> centers,
                       absl::Span<const float> widths, double log_cutoff,
                       int shift) {
  // Lay out the nodes.
  num_models_ = static_cast<int>(centers.size());
  shift_ = shift;
  int count_of_nodes;
  if (layout_ == CenterLayout::kLogSpaced) {
    const float narrowest = *std::min_element(widths.begin(), widths.end());
    const float tiny = std::max(
        PowerOfTwoBelow(std::min(narrowest / kTinyPerWidth, clip_ / 2.0f)),
        std::numeric_limits<float>::min());
    tiny_bits_ = FloatBits(tiny);
    inverse_tiny_ = 1.0f / tiny;
    // The node at or below clip, and one past it to interpolate towards.
    const int clip_node =
        1 + static_cast<int>((FloatBits(clip_) - tiny_bits_) >> shift_);
    nodes_per_side_ = clip_node + 2;
    count_of_nodes = 2 * nodes_per_side_;
  } else {
    const int intervals = 1 << (23 - shift);
    spacing_ = 2.0 * clip_ / intervals;
    inverse_spacing_ = static_cast<float>(intervals / (2.0 * clip_));
    count_of_nodes = intervals + 1;
  }
  start_.resize(count_of_nodes);
  if (count_of_nodes > kMaxNodes) return false;

  // Node by node: the exact weights and activations of every local model,
  // the interpolation error inside the interval that the node closes, and
  // the range of local models within the cut-off, whose entries are kept.
  const int count = num_models_;
  const double floor = std::exp(-log_cutoff);
  std::vector<double> w0(count), a0(count), w1(count), a1(count);
  std::vector<double> weights(count), activations(count);
  std::vector<int> low(nodes()), high(nodes());
  std::vector<size_t> offset(nodes() + 1, 0);
  std::vector<double> kept_weights, kept_activations;
  weight_error_ = 0.0;
  activation_error_ = 0.0;
  window_ = 1;
  for (int node = 0; node < nodes(); ++node) {
    w0.swap(w1);
    a0.swap(a1);
    ExactAt(centers, widths, NodeSignal(node), &w1, &a1);

    const double largest = *std::max_element(w1.begin(), w1.end());
    low[node] = count;
    high[node] = -1;
    for (int m = 0; m < count; ++m) {
      if (w1[m] >= largest * floor) {
        low[node] = std::min(low[node], m);
        high[node] = std::max(high[node], m);
      }
    }
    window_ = std::max(window_, high[node] - low[node] + 1);
    if (static_cast<size_t>(window_) * nodes() > kMaxTableEntries) {
      return false;
    }
    kept_weights.insert(kept_weights.end(), w1.begin() + low[node],
                        w1.begin() + high[node] + 1);
    kept_activations.insert(kept_activations.end(), a1.begin() + low[node],
                            a1.begin() + high[node] + 1);
    offset[node + 1] = kept_weights.size();
    if (node == 0 || LastOfRun(node - 1)) continue;

    const double from = NodeSignal(node - 1);
    const double to = NodeSignal(node);
    const double to_clip = (std::copysign(clip_, to) - from) / (to - from);
    for (double f : {0.25, 0.5, 0.75, to_clip}) {
      if (f <= 0.0 || f >= 1.0) continue;
      ExactAt(centers, widths, from + f * (to - from), &weights, &activations);
      double weight_error = 0.0;
      for (int m = 0; m < count; ++m) {
        weight_error += std::abs(weights[m] - ((1.0 - f) * w0[m] + f * w1[m]));
        activation_error_ = std::max(
            activation_error_,
            std::abs(activations[m] - ((1.0 - f) * a0[m] + f * a1[m])));
      }
      weight_error_ = std::max(weight_error_, weight_error);
    }
    if (weight_error_ > kTolerance || activation_error_ > kTolerance) {
      return false;
    }
  }

  // The tables: a window of window_ local models per node, holding the
  // kept range; local models outside it count as zero.
  relative_.assign(static_cast<size_t>(nodes()) * window_, 0.0f);
  absolute_.assign(relative_.size(), 0.0f);
  for (int node = 0; node < nodes(); ++node) {
    start_[node] = std::min(low[node], count - window_);
    const double* w = &kept_weights[offset[node]];
    const double* a = &kept_activations[offset[node]];
    const double largest =
        *std::max_element(w, w + (high[node] - low[node] + 1));
    for (int m = low[node]; m <= high[node]; ++m) {
      const size_t k = static_cast<size_t>(m - start_[node]);
      relative_[k * nodes() + node] =
          static_cast<float>(w[m - low[node]] / largest);
      absolute_[k * nodes() + node] = static_cast<float>(a[m - low[node]]);
    }
  }
  return true;
}

void SignalGrid::Locate(const float* signals, int n, int32_t* node,
                        float* fraction) const {
  const Lookup lookup{tiny_bits_,       inverse_tiny_, shift_, nodes_per_side_,
                      inverse_spacing_, nodes() - 2,   clip_};
  if (layout_ == CenterLayout::kLogSpaced) {
    LocateOnOctaves(lookup, signals, n, node, fraction);
  } else {
    LocateEvenly(lookup, signals, n, node, fraction);
  }
}

void SignalGrid::PredictRates(absl::Span<const float> values,
                              absl::Span<const float> signals, float lr_min,
                              float lr_max, absl::Span<float> rates) const {
  // The exact rate at every node, then the slope towards the next one.
  thread_local std::vector<float> scratch;
  scratch.resize(4 * static_cast<size_t>(nodes()));
  float* table = scratch.data();
  float* numerator = table + 2 * nodes();
  float* denominator = numerator + nodes();
  RatesAtNodes(relative_.data(), start_.data(), values.data(), nodes(), window_,
               numerator, denominator);
  for (int node = 0; node < nodes(); ++node) {
    table[2 * node] = numerator[node] / denominator[node];
  }
  for (int node = 0; node + 1 < nodes(); ++node) {
    table[2 * node + 1] = table[2 * node + 2] - table[2 * node];
  }
  // No interpolation across the end of a run.
  table[2 * nodes() - 1] = 0.0f;
  if (layout_ == CenterLayout::kLogSpaced) {
    table[2 * nodes_per_side_ - 1] = 0.0f;
  }

  int32_t node[kBlock];
  float fraction[kBlock];
  for (size_t from = 0; from < signals.size(); from += kBlock) {
    const int n =
        static_cast<int>(std::min<size_t>(kBlock, signals.size() - from));
    Locate(signals.data() + from, n, node, fraction);
    Interpolate(table, node, fraction, n, lr_min, lr_max, rates.data() + from);
  }
}

void SignalGrid::ComputeStatistic(ChangeRule rule,
                                  absl::Span<const float> previous,
                                  absl::Span<const float> current,
                                  absl::Span<float> statistic) const {
  // Each change term, split between the two nodes around its signal.
  thread_local std::vector<double> sums;
  sums.assign(static_cast<size_t>(nodes()), 0.0);
  int32_t node[kBlock];
  float fraction[kBlock], change[kBlock];
  for (size_t from = 0; from < previous.size(); from += kBlock) {
    const int n =
        static_cast<int>(std::min<size_t>(kBlock, previous.size() - from));
    Locate(previous.data() + from, n, node, fraction);
    Changes(rule, previous.data() + from, current.data() + from, n, change);
    for (int i = 0; i < n; ++i) {
      const float upper = change[i] * fraction[i];
      sums[node[i]] += change[i] - upper;
      sums[node[i] + 1] += upper;
    }
  }

  // The node sums weighted by each node's activations.
  thread_local std::vector<double> totals;
  totals.assign(static_cast<size_t>(num_models_), 0.0);
  for (int n = 0; n < nodes(); ++n) {
    const double sum = sums[n];
    if (sum == 0.0) continue;
    double* total = totals.data() + start_[n];
    for (int k = 0; k < window_; ++k) {
      total[k] += sum * absolute_[static_cast<size_t>(k) * nodes() + n];
    }
  }
  const double scale =
      previous.empty() ? 0.0 : 1.0 / static_cast<double>(previous.size());
  for (int m = 0; m < num_models_; ++m) {
    statistic[m] = static_cast<float>(totals[m] * scale);
  }
}

}  // namespace lrmem
