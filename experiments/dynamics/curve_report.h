// What the dynamics and BEGAN experiments make of their curves: loss-like
// measures (lower is better) recorded against optimizer steps, one curve
// per optimizer variant and seed. From them: a CSV of every point, the
// steps each variant needed to reach a threshold, a Markdown table and a
// PNG plot of the mean curves drawn by gnuplot.
//
// No torch here.

#ifndef LRMEM_EXPERIMENTS_DYNAMICS_CURVE_REPORT_H_
#define LRMEM_EXPERIMENTS_DYNAMICS_CURVE_REPORT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace lrmem::report {

struct CurvePoint {
  int step = 0;
  double value = 0.0;
};

struct Curve {
  std::string variant;  // no whitespace: gnuplot reads it as a column
  int seed = 0;
  std::vector<CurvePoint> points;  // ascending steps
};

// The first step at which the curve measured `threshold` or less, or
// nullopt when it never did.
std::optional<int> StepsToReach(const Curve& curve, double threshold);

// A Markdown table with one row per variant (in `variants` order): final
// value (mean ± std over seeds), best value, and steps to reach `threshold`
// (mean ± std over the seeds that did, with "k/n seeds" when not all did).
std::string FormatSummaryTable(const std::vector<Curve>& curves,
                               const std::vector<std::string>& variants,
                               double threshold, const std::string& value_name);

// One row per point: variant,seed,step,<value_name>.
absl::Status WriteCurvesCsv(const std::string& path,
                            const std::vector<Curve>& curves,
                            const std::string& value_name);

struct PlotOptions {
  std::string title;
  std::string value_label;  // y axis
  bool log_scale = false;
  // Drawn as a horizontal line when set.
  std::optional<double> threshold;
};

// Writes the mean curve of every variant (with its min-max band over
// seeds) into `dir`/<name>.dat, a gnuplot script beside it and runs
// gnuplot to draw `dir`/<name>.png. INTERNAL when gnuplot fails, with its
// output in the message.
absl::Status PlotMeanCurves(const std::string& dir, const std::string& name,
                            const std::vector<Curve>& curves,
                            const std::vector<std::string>& variants,
                            const PlotOptions& options);

// Runs gnuplot on the script file `script` with `dir` as the working
// directory. INTERNAL with gnuplot's output when it fails.
absl::Status RunGnuplot(const std::string& dir, const std::string& script);

}  // namespace lrmem::report

#endif  // LRMEM_EXPERIMENTS_DYNAMICS_CURVE_REPORT_H_
