#include "bench/payload_scenario.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "bench/bench_learner.h"
#include "bench/bench_stats.h"
#include "lrmem/client.h"

namespace lrmem::bench {
namespace {

struct PayloadRuns {
  std::vector<double> latencies;         // seconds, every timed step
  std::vector<double> bytes_per_second;  // one per run
  int messages_per_step = 0;
  int groups = 0;
};

// Times steps until the run is long enough; appends to `runs`.
absl::Status TimedRun(const PayloadOptions& options, int64_t size,
                      BenchLearner& learner, PayloadRuns& runs) {
  Stopwatch run;
  int steps = 0;
  while (steps < options.min_steps || run.Seconds() < options.run_seconds) {
    Stopwatch step;
    if (absl::Status s = learner.Step(); !s.ok()) return s;
    runs.latencies.push_back(step.Seconds());
    ++steps;
  }
  const double bytes = 4.0 * static_cast<double>(size) * steps;
  runs.bytes_per_second.push_back(bytes / run.Seconds());
  return absl::OkStatus();
}

absl::StatusOr<PayloadRuns> MeasureSize(const PayloadOptions& options,
                                        int64_t size, Client* client,
                                        Progress* progress) {
  BenchLearnerOptions learner_options;
  learner_options.memory = absl::StrCat("bench/payload/", size);
  learner_options.parameters = size;
  learner_options.group_size = options.group_size;
  learner_options.max_message_floats = options.max_message_floats;
  absl::StatusOr<std::unique_ptr<BenchLearner>> learner =
      BenchLearner::Open(client, learner_options);
  if (!learner.ok()) return learner.status();

  PayloadRuns runs;
  runs.messages_per_step = (*learner)->messages_per_step();
  runs.groups = (*learner)->groups();
  for (int i = 0; i < options.warmup_steps; ++i) {
    if (absl::Status s = (*learner)->Step(); !s.ok()) return s;
  }
  for (int run = 0; run < options.repeats; ++run) {
    progress->Update("payload", absl::StrCat("D=", size, " run ", run + 1, "/",
                                             options.repeats));
    if (absl::Status s = TimedRun(options, size, **learner, runs); !s.ok()) {
      return s;
    }
  }
  return runs;
}

}  // namespace

absl::StatusOr<Table> RunPayloadScenario(const PayloadOptions& options,
                                         Progress* progress) {
  Table table("payload", "Rates mode: one learner, D floats per step",
              {"D", "groups", "messages/step", "median latency (ms)",
               "p99 latency (ms)", "gradient MB/s"});
  Client client(options.server_address);
  for (int64_t size : options.sizes) {
    absl::StatusOr<PayloadRuns> runs =
        MeasureSize(options, size, &client, progress);
    if (!runs.ok()) {
      return absl::Status(
          runs.status().code(),
          absl::StrCat("payload D=", size, ": ", runs.status().message()));
    }
    const Summary latency = Scaled(Summarize(runs->latencies), 1e3);
    table.AddRow({SizeCell(size), SizeCell(runs->groups),
                  SizeCell(runs->messages_per_step), SpreadCell(latency),
                  NumberCell(latency.p99),
                  SpreadCell(Scaled(Summarize(runs->bytes_per_second), 1e-6))});
  }
  table.AddNote(absl::StrCat(
      "Latency: median [p10, p90] and p99 over every timed step; ",
      "throughput: median [p10, p90] over ", options.repeats,
      " runs of >= ", options.run_seconds,
      " s; MB = 1e6 bytes of gradient sent (as many come back as rates)."));
  return table;
}

}  // namespace lrmem::bench
