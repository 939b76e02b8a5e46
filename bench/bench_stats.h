// Summaries of repeated measurements: the median and the spread of a set of
// samples, and a monotonic stopwatch.
//
// Every figure lrmem-bench reports is a Summary: the median of repeated
// runs (or of per-step latencies) with the 10th and 90th percentiles, and
// the 99th where tail latency matters.

#ifndef LRMEM_BENCH_BENCH_STATS_H_
#define LRMEM_BENCH_BENCH_STATS_H_

#include <chrono>
#include <vector>

namespace lrmem::bench {

struct Summary {
  int count = 0;
  double min = 0.0;
  double p10 = 0.0;
  double median = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
  double max = 0.0;
};

// Percentiles by linear interpolation between order statistics. All zero
// for an empty set.
Summary Summarize(std::vector<double> samples);

// Every field of `summary` multiplied by `factor` (e.g. seconds to ms).
Summary Scaled(const Summary& summary, double factor);

class Stopwatch {
 public:
  Stopwatch() : start_(Clock::now()) {}
  void Restart() { start_ = Clock::now(); }
  double Seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_BENCH_STATS_H_
