// Scenario "sharing": several learners training at once, each on its own
// thread with its own connection, either all on one memory or each on a
// memory of its own. Total steps per second, latency and errors (which
// must be zero).
//
// The learners run in the benchmark process, on the same machine as the
// server: on a small machine their own CPU use (forming requests, and the
// local rate prediction in statistics mode) competes with the server's.

#ifndef LRMEM_BENCH_SHARING_SCENARIO_H_
#define LRMEM_BENCH_SHARING_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_progress.h"
#include "bench/bench_table.h"
#include "lrmem/learner_session.h"

namespace lrmem::bench {

struct SharingOptions {
  std::string server_address;
  std::vector<int> learners = {1, 4, 16, 64};
  std::vector<SessionMode> modes = {SessionMode::kRates};
  // Parameters per learner, in one group.
  int64_t parameters = 10000;
  double warmup_seconds = 0.3;
  int repeats = 3;
  double run_seconds = 1.5;
};

absl::StatusOr<Table> RunSharingScenario(const SharingOptions& options,
                                         Progress* progress);

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_SHARING_SCENARIO_H_
