#include "bench/bench_stats.h"

#include <algorithm>
#include <cmath>

namespace lrmem::bench {
namespace {

// The q-quantile of sorted, non-empty samples.
double Quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

}  // namespace

Summary Summarize(std::vector<double> samples) {
  Summary summary;
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  summary.count = static_cast<int>(samples.size());
  summary.min = samples.front();
  summary.p10 = Quantile(samples, 0.10);
  summary.median = Quantile(samples, 0.50);
  summary.p90 = Quantile(samples, 0.90);
  summary.p99 = Quantile(samples, 0.99);
  summary.max = samples.back();
  return summary;
}

Summary Scaled(const Summary& summary, double factor) {
  Summary scaled = summary;
  scaled.min *= factor;
  scaled.p10 *= factor;
  scaled.median *= factor;
  scaled.p90 *= factor;
  scaled.p99 *= factor;
  scaled.max *= factor;
  return scaled;
}

}  // namespace lrmem::bench
