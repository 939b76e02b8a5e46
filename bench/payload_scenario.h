// Scenario "payload": what rates mode costs as the model grows. One
// learner, parameter groups totalling D floats, steps back to back over
// loopback: step latency (median and p99) and gradient throughput, i.e.
// gradient bytes sent per second (the rates coming back are as large
// again).

#ifndef LRMEM_BENCH_PAYLOAD_SCENARIO_H_
#define LRMEM_BENCH_PAYLOAD_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_progress.h"
#include "bench/bench_table.h"

namespace lrmem::bench {

struct PayloadOptions {
  std::string server_address;
  std::vector<int64_t> sizes = {10000, 100000, 1000000, 10000000};
  // Largest group; a model of D parameters has ceil(D / group_size).
  int64_t group_size = 1000000;
  // Most floats per message (gRPC's limit is on bytes, 4 per float).
  int64_t max_message_floats = int64_t{8} << 20;
  int warmup_steps = 3;
  int repeats = 5;
  // Each run takes at least this long and at least min_steps steps.
  double run_seconds = 1.0;
  int min_steps = 3;
};

absl::StatusOr<Table> RunPayloadScenario(const PayloadOptions& options,
                                         Progress* progress);

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_PAYLOAD_SCENARIO_H_
