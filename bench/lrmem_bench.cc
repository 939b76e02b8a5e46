// lrmem-bench: what the learning-rate memory costs a training job, side by
// side with the optimizers a job would otherwise run in its own process.
// Each scenario prints a Markdown table on stdout; --json writes every
// figure to one file. Every figure is the median of repeated runs after a
// warm-up, with its spread. docs/benchmarks.md has the tables and their
// reading.
//
//   lrmem-bench                                  # every scenario
//   lrmem-bench --scenarios=core,payload --json=out.json
//   lrmem-bench --server_binary=build/server/lrmem-server
//
// The networked scenarios (training, payload, sharing) start one server on
// 127.0.0.1 with a free port and a temporary data directory: an
// lrmem-server subprocess given --server_binary, an EmbeddedServer in this
// process otherwise.

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_progress.h"
#include "bench/bench_server.h"
#include "bench/bench_table.h"
#include "bench/core_scenario.h"
#include "bench/payload_scenario.h"
#include "bench/sharing_scenario.h"
#include "gflags/gflags.h"
#ifdef LRMEM_BENCH_WITH_TORCH
#include "bench/training_scenario.h"
#include "torch/torch.h"
#endif

DEFINE_string(scenarios, "core,training,payload,sharing",
              "comma-separated scenarios to run, in this order");
DEFINE_string(json, "", "also write every figure to this JSON file");
DEFINE_string(server_binary, "",
              "lrmem-server to start as a subprocess; empty: an "
              "EmbeddedServer in this process");
DEFINE_int32(server_max_message_bytes, 0,
             "--max_message_bytes for the lrmem-server subprocess; 0 keeps "
             "its default");

DEFINE_string(core_sizes, "1e3,1e4,1e5,1e6,1e7", "core: group sizes D");
DEFINE_int32(core_repeats, 7, "core: timed runs per figure");
DEFINE_double(core_run_ms, 100, "core: length of one run");

DEFINE_string(training_batches, "1,32", "training: batch sizes");
DEFINE_int32(training_repeats, 7, "training: timed runs per figure");
DEFINE_int32(training_steps, 200, "training: steps per run");
DEFINE_int32(training_warmup_steps, 20, "training: warm-up steps");
DEFINE_int32(torch_threads, 1,
             "training: libtorch intra-op threads (the MNIST job's setting)");

DEFINE_string(payload_sizes, "1e4,1e5,1e6,1e7", "payload: model sizes D");
DEFINE_int64(payload_group_size, 1000000, "payload: largest group, floats");
DEFINE_int64(payload_max_message_floats, int64_t{8} << 20,
             "payload: most floats per message; a larger step is sent as "
             "several messages of whole groups");
DEFINE_int32(payload_repeats, 5, "payload: timed runs per figure");
DEFINE_double(payload_run_seconds, 1.0, "payload: least length of a run");
DEFINE_int32(payload_warmup_steps, 3, "payload: warm-up steps");

DEFINE_string(sharing_learners, "1,4,16,64", "sharing: learner counts");
DEFINE_string(sharing_modes, "rates,statistics",
              "sharing: session modes (rates, statistics)");
DEFINE_int64(sharing_parameters, 10000, "sharing: parameters per learner");
DEFINE_int32(sharing_repeats, 3, "sharing: timed runs per figure");
DEFINE_double(sharing_run_seconds, 1.5, "sharing: length of one run");
DEFINE_double(sharing_warmup_seconds, 0.3, "sharing: warm-up length");

namespace lrmem::bench {
namespace {

// "1e3,10000" -> {1000, 10000}; INVALID_ARGUMENT naming the flag.
absl::StatusOr<std::vector<int64_t>> ParseSizes(const std::string& flag,
                                                const std::string& text) {
  std::vector<int64_t> sizes;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    double value = 0.0;
    if (!absl::SimpleAtod(item, &value) || value < 1.0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": not a positive number: '", item, "'"));
    }
    sizes.push_back(static_cast<int64_t>(value));
  }
  return sizes;
}

template <typename T>
absl::Status ParseInto(const std::string& flag, const std::string& text,
                       std::vector<T>* out) {
  absl::StatusOr<std::vector<int64_t>> sizes = ParseSizes(flag, text);
  if (!sizes.ok()) return sizes.status();
  out->assign(sizes->begin(), sizes->end());
  return absl::OkStatus();
}

absl::Status ParseModes(const std::string& text,
                        std::vector<SessionMode>* modes) {
  modes->clear();
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (item == "rates") {
      modes->push_back(SessionMode::kRates);
    } else if (item == "statistics") {
      modes->push_back(SessionMode::kStatistics);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--sharing_modes: unknown mode '", item, "'"));
    }
  }
  return absl::OkStatus();
}

double LoadAverage() {
  double load[1] = {0.0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

nlohmann::json Machine() {
  utsname names{};
  uname(&names);
  return {{"host", names.nodename},
          {"kernel", absl::StrCat(names.sysname, " ", names.release)},
          {"online_cpus", sysconf(_SC_NPROCESSORS_ONLN)}};
}

nlohmann::json Flags() {
  nlohmann::json flags = nlohmann::json::object();
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  for (const auto& flag : all) {
    if (flag.filename.find("lrmem_bench") != std::string::npos) {
      flags[flag.name] = flag.current_value;
    }
  }
  return flags;
}

// The server of the networked scenarios, started on first use.
class LazyServer {
 public:
  absl::StatusOr<std::string> Address() {
    if (server_ == nullptr) {
      BenchServerOptions options;
      options.binary = FLAGS_server_binary;
      options.max_message_bytes = FLAGS_server_max_message_bytes;
      absl::StatusOr<std::unique_ptr<BenchServer>> server =
          BenchServer::Start(options);
      if (!server.ok()) return server.status();
      server_ = std::move(*server);
      std::fprintf(stderr, "server: %s at %s, pid %d\n",
                   server_->Describe().c_str(), server_->address().c_str(),
                   static_cast<int>(server_->pid()));
    }
    return server_->address();
  }
  std::string Describe() const {
    return server_ == nullptr ? "none" : server_->Describe();
  }

 private:
  std::unique_ptr<BenchServer> server_;
};

absl::StatusOr<Table> RunCore(Progress* progress) {
  CoreOptions options;
  if (absl::Status s =
          ParseInto("core_sizes", FLAGS_core_sizes, &options.sizes);
      !s.ok()) {
    return s;
  }
  options.repeats = FLAGS_core_repeats;
  options.run_seconds = FLAGS_core_run_ms / 1e3;
  return RunCoreScenario(options, progress);
}

absl::StatusOr<Table> RunTraining(LazyServer& server, Progress* progress) {
#ifdef LRMEM_BENCH_WITH_TORCH
  TrainingOptions options;
  if (absl::Status s = ParseInto("training_batches", FLAGS_training_batches,
                                 &options.batch_sizes);
      !s.ok()) {
    return s;
  }
  options.repeats = FLAGS_training_repeats;
  options.steps_per_run = FLAGS_training_steps;
  options.warmup_steps = FLAGS_training_warmup_steps;
  torch::set_num_threads(FLAGS_torch_threads);
  absl::StatusOr<std::string> address = server.Address();
  if (!address.ok()) return address.status();
  options.server_address = *address;
  return RunTrainingScenario(options, progress);
#else
  return absl::UnimplementedError(
      "the training scenario needs libtorch (build with LRMEM_WITH_TORCH)");
#endif
}

absl::StatusOr<Table> RunPayload(LazyServer& server, Progress* progress) {
  PayloadOptions options;
  if (absl::Status s =
          ParseInto("payload_sizes", FLAGS_payload_sizes, &options.sizes);
      !s.ok()) {
    return s;
  }
  options.group_size = FLAGS_payload_group_size;
  options.max_message_floats = FLAGS_payload_max_message_floats;
  options.repeats = FLAGS_payload_repeats;
  options.run_seconds = FLAGS_payload_run_seconds;
  options.warmup_steps = FLAGS_payload_warmup_steps;
  absl::StatusOr<std::string> address = server.Address();
  if (!address.ok()) return address.status();
  options.server_address = *address;
  return RunPayloadScenario(options, progress);
}

absl::StatusOr<Table> RunSharing(LazyServer& server, Progress* progress) {
  SharingOptions options;
  if (absl::Status s = ParseInto("sharing_learners", FLAGS_sharing_learners,
                                 &options.learners);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseModes(FLAGS_sharing_modes, &options.modes);
      !s.ok()) {
    return s;
  }
  options.parameters = FLAGS_sharing_parameters;
  options.repeats = FLAGS_sharing_repeats;
  options.run_seconds = FLAGS_sharing_run_seconds;
  options.warmup_seconds = FLAGS_sharing_warmup_seconds;
  absl::StatusOr<std::string> address = server.Address();
  if (!address.ok()) return address.status();
  options.server_address = *address;
  return RunSharingScenario(options, progress);
}

absl::StatusOr<Table> RunScenario(absl::string_view name, LazyServer& server,
                                  Progress* progress) {
  if (name == "core") return RunCore(progress);
  if (name == "training") return RunTraining(server, progress);
  if (name == "payload") return RunPayload(server, progress);
  if (name == "sharing") return RunSharing(server, progress);
  return absl::InvalidArgumentError(
      absl::StrCat("--scenarios: unknown scenario '", name, "'"));
}

int Main() {
  Report report;
  report.SetContext("machine", Machine());
  report.SetContext("flags", Flags());
  report.SetContext("started_at", UtcNow());
  report.SetContext("load_average_1min_at_start", LoadAverage());
  std::printf("lrmem-bench, %s, load average %.2f at start\n\n",
              UtcNow().c_str(), LoadAverage());

  Progress progress;
  LazyServer server;
  for (absl::string_view name :
       absl::StrSplit(FLAGS_scenarios, ',', absl::SkipEmpty())) {
    absl::StatusOr<Table> table = RunScenario(name, server, &progress);
    progress.Done();
    if (!table.ok()) {
      std::fprintf(stderr, "lrmem-bench: %s\n",
                   table.status().ToString().c_str());
      return 1;
    }
    std::printf("%s\n", table->ToMarkdown().c_str());
    std::fflush(stdout);
    report.Add(*table);
  }

  report.SetContext("server", server.Describe());
  report.SetContext("load_average_1min_at_end", LoadAverage());
  std::printf("load average %.2f at end; server: %s\n", LoadAverage(),
              server.Describe().c_str());
  if (FLAGS_json.empty()) return 0;
  if (absl::Status s = report.WriteJson(FLAGS_json); !s.ok()) {
    std::fprintf(stderr, "lrmem-bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace lrmem::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "what the learning-rate memory costs a training job; see "
      "docs/benchmarks.md");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return lrmem::bench::Main();
}
