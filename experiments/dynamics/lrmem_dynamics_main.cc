// lrmem-dynamics: learns the forward dynamics of a simulated seven-joint arm
// with an LSTM, once per optimizer variant and seed, and reports held-out
// NMSE against optimizer steps.
//
//   lrmem-dynamics                       the default study (~11 min, 2 cores)
//   lrmem-dynamics --quick               a one-minute smoke run
//   lrmem-dynamics --server host:port    memories on a running server
//
// Writes into --out_dir: curves.csv (every evaluation), summary.md (the
// table), nmse.png (mean curves with min-max bands) and trajectories.csv
// (the first training trajectory, to look at the data).

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "experiments/dynamics/arm_simulation.h"
#include "experiments/dynamics/curve_report.h"
#include "experiments/dynamics/dynamics_training.h"
#include "experiments/dynamics/experiment_setup.h"
#include "gflags/gflags.h"
#include "glog/logging.h"

DEFINE_string(out_dir, "out/dynamics", "Directory for CSV, table and plots.");
DEFINE_string(model, LRMEM_DYNAMICS_MODEL_PATH, "MJCF model of the arm.");
DEFINE_string(server, "",
              "Address of a running lrmem server; empty: an embedded server "
              "keeping its data in <out_dir>/lrmem-data.");
DEFINE_string(variants, "sgd,adam,sgd+memory,adam+memory",
              "Comma-separated optimizer variants.");
DEFINE_int32(seeds, 3, "Seeds per variant (0, 1, ...).");
DEFINE_int32(steps, 1000, "Optimizer steps per run.");
DEFINE_int32(eval_every, 50, "Held-out NMSE every this many steps.");
DEFINE_int32(train_trajectories, 8, "Simulated training trajectories.");
DEFINE_int32(held_out_trajectories, 2, "Simulated held-out trajectories.");
DEFINE_int32(trajectory_steps, 4000, "1 ms steps per trajectory.");
DEFINE_double(torque_noise, 1.0, "Scale of the controller's torque noise.");
DEFINE_int32(hidden, 32, "LSTM cells.");
DEFINE_int32(batch, 16, "Subsequences per step.");
DEFINE_int32(sequence_length, 128, "Steps per training subsequence.");
DEFINE_double(sgd_lr, 0.1, "SGD learning rate (and its memory's start).");
DEFINE_double(adam_lr, 0.003, "Adam learning rate (and its memory's start).");
DEFINE_double(threshold, 0.1,
              "NMSE counted as an acceptable model in the steps-to-reach "
              "column.");
DEFINE_bool(relative_meta_lr, true,
            "Read --memory_meta_learning_rate as a fraction of the base "
            "learning rate.");
DEFINE_int32(jobs, 2, "Runs trained in parallel, one thread each.");
DEFINE_bool(quick, false,
            "Tiny data, model and budget for CI; flags given explicitly "
            "still win.");

namespace lrmem::dynamics {
namespace {

namespace fs = std::filesystem;

void SetUnlessGiven(const char* flag, const char* value) {
  if (gflags::GetCommandLineFlagInfoOrDie(flag).is_default) {
    gflags::SetCommandLineOption(flag, value);
  }
}

// This job's defaults for the shared --memory_* flags, set before parsing
// so that the command line still wins: the sign of the gradient product
// moves the values whatever the gradients' scale, and the meta learning
// rate is read relative to the base rate.
void SetMemoryDefaults() {
  gflags::SetCommandLineOptionWithMode("memory_change_rule", "sign",
                                       gflags::SET_FLAGS_DEFAULT);
  gflags::SetCommandLineOptionWithMode("memory_meta_learning_rate", "0.5",
                                       gflags::SET_FLAGS_DEFAULT);
}

void ApplyQuick() {
  SetUnlessGiven("seeds", "1");
  SetUnlessGiven("steps", "60");
  SetUnlessGiven("eval_every", "10");
  SetUnlessGiven("train_trajectories", "2");
  SetUnlessGiven("held_out_trajectories", "1");
  SetUnlessGiven("trajectory_steps", "600");
  SetUnlessGiven("hidden", "16");
  SetUnlessGiven("batch", "8");
  SetUnlessGiven("out_dir", "out/dynamics-quick");
}

// Training and held-out trajectories come from disjoint seed ranges.
absl::StatusOr<std::pair<std::vector<Trajectory>, std::vector<Trajectory>>>
SimulateData() {
  SimulationOptions options;
  options.model_path = FLAGS_model;
  options.steps_per_trajectory = FLAGS_trajectory_steps;
  options.torque_noise_scale = FLAGS_torque_noise;
  std::vector<uint64_t> train_seeds, held_out_seeds;
  for (int i = 0; i < FLAGS_train_trajectories; ++i) train_seeds.push_back(i);
  for (int i = 0; i < FLAGS_held_out_trajectories; ++i) {
    held_out_seeds.push_back(1000 + i);
  }
  absl::StatusOr<std::vector<Trajectory>> train =
      SimulateTrajectories(options, train_seeds);
  if (!train.ok()) return train.status();
  absl::StatusOr<std::vector<Trajectory>> held_out =
      SimulateTrajectories(options, held_out_seeds);
  if (!held_out.ok()) return held_out.status();
  return std::make_pair(*std::move(train), *std::move(held_out));
}

absl::Status WriteTrajectoryCsv(const std::string& path, const Trajectory& t) {
  std::ofstream out(path);
  out << "step";
  for (int j = 0; j < kNumJoints; ++j) out << ",q" << j;
  for (int j = 0; j < kNumJoints; ++j) out << ",qd" << j;
  for (int j = 0; j < kNumJoints; ++j) out << ",tau" << j;
  out << "\n";
  for (int s = 0; s < t.num_steps; ++s) {
    out << s;
    for (int i = 0; i < kStateSize; ++i) out << "," << t.State(s)[i];
    for (int j = 0; j < kNumJoints; ++j) out << "," << t.Torque(s)[j];
    out << "\n";
  }
  return out ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("cannot write ", path));
}

TrainingOptions MakeTrainingOptions(const std::string& server_address,
                                    const MemoryConfig& memory_config) {
  TrainingOptions options;
  options.sgd_learning_rate = FLAGS_sgd_lr;
  options.adam_learning_rate = FLAGS_adam_lr;
  options.steps = FLAGS_steps;
  options.batch_size = FLAGS_batch;
  options.sequence_length = FLAGS_sequence_length;
  options.hidden_size = FLAGS_hidden;
  options.eval_every = FLAGS_eval_every;
  options.server_address = server_address;
  // Memories are created fresh per run; the time keeps names from older
  // runs on the same server apart.
  options.run_name =
      absl::StrCat("dynamics/", absl::ToUnixSeconds(absl::Now()));
  options.memory_config = memory_config;
  options.relative_meta_learning_rate = FLAGS_relative_meta_lr;
  return options;
}

report::Curve ToReportCurve(const Curve& curve) {
  report::Curve out{VariantName(curve.variant), curve.seed, {}};
  for (const CurvePoint& p : curve.points) {
    out.points.push_back({p.step, p.nmse});
  }
  return out;
}

// One line per evaluation: the run, how far it is, and the time so far.
ProgressCallback ProgressLine(int run, int runs, absl::Time start) {
  return [=](const Curve& curve) {
    const CurvePoint& p = curve.points.back();
    std::cerr << absl::StrFormat(
        "dynamics: run %d/%d %-11s seed %d step %5d/%d nmse %.4f  "
        "[%.0f s]\n",
        run, runs, VariantName(curve.variant), curve.seed, p.step, FLAGS_steps,
        p.nmse, absl::ToDoubleSeconds(absl::Now() - start));
  };
}

absl::Status WriteReport(const std::string& out_dir,
                         const std::vector<report::Curve>& curves,
                         const std::vector<std::string>& names) {
  absl::Status status =
      report::WriteCurvesCsv(out_dir + "/curves.csv", curves, "nmse");
  if (!status.ok()) return status;
  const std::string table =
      report::FormatSummaryTable(curves, names, FLAGS_threshold, "NMSE");
  std::ofstream(out_dir + "/summary.md") << table;
  std::cout << table;
  report::PlotOptions plot;
  plot.title = absl::StrFormat(
      "LSTM forward dynamics, held-out NMSE (mean and min-max over %d "
      "seeds)",
      FLAGS_seeds);
  plot.value_label = "NMSE of the change of state";
  plot.log_scale = true;
  plot.threshold = FLAGS_threshold;
  return report::PlotMeanCurves(out_dir, "nmse", curves, names, plot);
}

// Every (variant, seed) pair, variants outermost.
struct RunSpec {
  Variant variant;
  int seed;
};

std::vector<RunSpec> Plan(const std::vector<Variant>& variants) {
  std::vector<RunSpec> out;
  for (Variant v : variants) {
    for (int seed = 0; seed < FLAGS_seeds; ++seed) out.push_back({v, seed});
  }
  return out;
}

absl::Status Run() {
  absl::StatusOr<std::vector<Variant>> variants = ParseVariants(FLAGS_variants);
  if (!variants.ok()) return variants.status();
  absl::StatusOr<MemoryConfig> memory_config =
      experiments::MemoryConfigFromFlags();
  if (!memory_config.ok()) return memory_config.status();
  const std::string out_dir = FLAGS_out_dir;
  fs::create_directories(out_dir);
  absl::StatusOr<experiments::MemoryServer> server =
      experiments::MemoryServer::Connect(FLAGS_server, out_dir + "/lrmem-data");
  if (!server.ok()) return server.status();
  // One intra-op thread per run; runs go in parallel instead, which uses
  // the cores better on networks this small.
  SetTorchThreads(1);

  const absl::Time start = absl::Now();
  auto data = SimulateData();
  if (!data.ok()) return data.status();
  const auto& [train, held_out] = *data;
  LOG(INFO) << "simulated " << train.size() << " training and "
            << held_out.size() << " held-out trajectories of "
            << FLAGS_trajectory_steps << " steps in "
            << absl::FormatDuration(absl::Now() - start);
  absl::Status status =
      WriteTrajectoryCsv(out_dir + "/trajectories.csv", train[0]);
  if (!status.ok()) return status;

  const TrainingOptions options =
      MakeTrainingOptions(server->address(), *memory_config);
  const std::vector<RunSpec> plan = Plan(*variants);
  std::vector<report::Curve> curves(plan.size());
  status = experiments::RunParallel(
      FLAGS_jobs, plan.size(), [&](int i) -> absl::Status {
        absl::StatusOr<Curve> curve =
            TrainVariant(plan[i].variant, plan[i].seed, train, held_out,
                         options, ProgressLine(i + 1, plan.size(), start));
        if (!curve.ok()) return curve.status();
        if (curve->skipped_steps > 0) {
          LOG(WARNING) << VariantName(curve->variant) << " seed " << curve->seed
                       << " skipped " << curve->skipped_steps << " steps";
        }
        curves[i] = ToReportCurve(*curve);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;

  std::vector<std::string> names;
  for (Variant v : *variants) names.push_back(VariantName(v));
  status = WriteReport(out_dir, curves, names);
  if (!status.ok()) return status;
  LOG(INFO) << "done in " << absl::FormatDuration(absl::Now() - start)
            << "; results in " << out_dir;
  return absl::OkStatus();
}

}  // namespace
}  // namespace lrmem::dynamics

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Learns a 7-joint arm's forward dynamics with an "
      "LSTM, with and without a learning-rate memory.");
  lrmem::dynamics::SetMemoryDefaults();
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  if (FLAGS_quick) lrmem::dynamics::ApplyQuick();
  const absl::Status status = lrmem::dynamics::Run();
  if (!status.ok()) {
    LOG(ERROR) << status;
    return 1;
  }
  return 0;
}
