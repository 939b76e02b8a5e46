#include "bench/sharing_scenario.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bench/bench_learner.h"
#include "bench/bench_stats.h"
#include "lrmem/client.h"

namespace lrmem::bench {
namespace {

// One learner with its own connection, as a separate training job has.
struct Learner {
  std::unique_ptr<Client> client;
  std::unique_ptr<BenchLearner> learner;
  std::vector<double> latencies;
  int64_t steps = 0;
};

struct SharingRuns {
  std::vector<double> steps_per_second;  // one per run
  std::vector<double> latencies;         // every timed step
  int64_t errors = 0;
  std::string first_error;
};

class SharingCase {
 public:
  SharingCase(const SharingOptions& options, int count, bool shared,
              SessionMode mode)
      : options_(options), count_(count), shared_(shared), mode_(mode) {}

  std::string Label() const {
    return absl::StrCat(count_, " learners, ",
                        shared_ ? "one memory" : "own memories", ", ",
                        mode_ == SessionMode::kRates ? "rates" : "statistics");
  }

  absl::Status Open() {
    const std::string prefix =
        absl::StrCat("bench/sharing/", mode_ == SessionMode::kRates ? "r" : "s",
                     count_, shared_ ? "-shared" : "-own");
    for (int i = 0; i < count_; ++i) {
      auto learner = std::make_unique<Learner>();
      learner->client = std::make_unique<Client>(options_.server_address);
      BenchLearnerOptions learner_options;
      learner_options.memory = shared_ ? prefix : absl::StrCat(prefix, "-", i);
      learner_options.learner_id = absl::StrCat("learner-", i);
      learner_options.parameters = options_.parameters;
      learner_options.group_size = options_.parameters;
      learner_options.mode = mode_;
      learner_options.seed = static_cast<unsigned>(i + 1);
      absl::StatusOr<std::unique_ptr<BenchLearner>> opened =
          BenchLearner::Open(learner->client.get(), learner_options);
      if (!opened.ok()) return opened.status();
      learner->learner = std::move(*opened);
      learners_.push_back(std::move(learner));
    }
    return absl::OkStatus();
  }

  // All learners step back to back for `seconds`; with `record`, the run
  // counts towards `runs`.
  void Run(double seconds, bool record, SharingRuns& runs) {
    absl::Notification start;
    std::vector<std::thread> threads;
    for (auto& learner : learners_) {
      learner->latencies.clear();
      learner->steps = 0;
      threads.emplace_back(
          [&, l = learner.get()] { Loop(start, seconds, *l, runs); });
    }
    Stopwatch watch;
    start.Notify();
    for (std::thread& thread : threads) thread.join();
    const double elapsed = watch.Seconds();
    if (!record) return;
    int64_t steps = 0;
    for (auto& learner : learners_) {
      steps += learner->steps;
      runs.latencies.insert(runs.latencies.end(), learner->latencies.begin(),
                            learner->latencies.end());
    }
    runs.steps_per_second.push_back(static_cast<double>(steps) / elapsed);
  }

 private:
  void Loop(absl::Notification& start, double seconds, Learner& learner,
            SharingRuns& runs) {
    start.WaitForNotification();
    Stopwatch run;
    while (run.Seconds() < seconds) {
      Stopwatch step;
      absl::Status status = learner.learner->Step();
      learner.latencies.push_back(step.Seconds());
      ++learner.steps;
      if (!status.ok()) RecordError(status, runs);
    }
  }

  void RecordError(const absl::Status& status, SharingRuns& runs) {
    absl::MutexLock lock(&mu_);
    if (runs.errors++ == 0) runs.first_error = status.ToString();
  }

  const SharingOptions& options_;
  const int count_;
  const bool shared_;
  const SessionMode mode_;
  std::vector<std::unique_ptr<Learner>> learners_;
  absl::Mutex mu_;
};

absl::StatusOr<SharingRuns> Measure(const SharingOptions& options,
                                    SharingCase& sharing, Progress* progress) {
  progress->Update("sharing", absl::StrCat(sharing.Label(), ": opening"));
  if (absl::Status s = sharing.Open(); !s.ok()) return s;
  SharingRuns runs;
  sharing.Run(options.warmup_seconds, /*record=*/false, runs);
  for (int run = 0; run < options.repeats; ++run) {
    progress->Update("sharing", absl::StrCat(sharing.Label(), ": run ", run + 1,
                                             "/", options.repeats));
    sharing.Run(options.run_seconds, /*record=*/true, runs);
  }
  return runs;
}

}  // namespace

absl::StatusOr<Table> RunSharingScenario(const SharingOptions& options,
                                         Progress* progress) {
  Table table("sharing", "Concurrent learners",
              {"learners", "memories", "mode", "total steps/s",
               "median latency (ms)", "p99 latency (ms)", "errors"});
  std::string first_error;
  for (SessionMode mode : options.modes) {
    for (int count : options.learners) {
      for (bool shared : {true, false}) {
        if (count == 1 && !shared) continue;  // the same case twice
        SharingCase sharing(options, count, shared, mode);
        absl::StatusOr<SharingRuns> runs = Measure(options, sharing, progress);
        if (!runs.ok()) return runs.status();
        const Summary latency = Scaled(Summarize(runs->latencies), 1e3);
        table.AddRow(
            {SizeCell(count), TextCell(shared ? "one" : "one each"),
             TextCell(mode == SessionMode::kRates ? "rates" : "statistics"),
             SpreadCell(Summarize(runs->steps_per_second)),
             NumberCell(latency.median), NumberCell(latency.p99),
             Cell{absl::StrCat(runs->errors), runs->errors}});
        if (first_error.empty()) first_error = runs->first_error;
      }
    }
  }
  table.AddNote(absl::StrCat(
      "D = ", options.parameters, " per learner; steps/s: median [p10, p90]",
      " over ", options.repeats, " runs of ", options.run_seconds,
      " s; latencies over every step of every run."));
  if (!first_error.empty()) table.AddNote("First error: " + first_error);
  return table;
}

}  // namespace lrmem::bench
