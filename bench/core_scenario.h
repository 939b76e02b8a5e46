// Scenario "core": the memory's own per-step work for one parameter group,
// next to the cheapest optimizer step over the same parameters.
//
// For every size D: a plain SGD pass (w -= lr * g over D floats, the
// memory-bandwidth floor of any optimizer) and one memory step (the
// statistic from the previous and current gradient, the O(M) update of the
// values, a learning rate for every parameter), once with M = 20 evenly
// spaced centers and once with M = 21 log-spaced ones. No I/O, no server.

#ifndef LRMEM_BENCH_CORE_SCENARIO_H_
#define LRMEM_BENCH_CORE_SCENARIO_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_progress.h"
#include "bench/bench_table.h"

namespace lrmem::bench {

struct CoreOptions {
  std::vector<int64_t> sizes = {1000, 10000, 100000, 1000000, 10000000};
  // Timed runs per figure, after one warm-up run.
  int repeats = 7;
  // Each run repeats the step until it has taken about this long.
  double run_seconds = 0.1;
};

absl::StatusOr<Table> RunCoreScenario(const CoreOptions& options,
                                      Progress* progress);

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_CORE_SCENARIO_H_
