#include "experiments/dynamics/curve_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lrmem::report {
namespace {

struct MeanStd {
  double mean = 0.0;
  double stddev = 0.0;
};

MeanStd Stats(const std::vector<double>& values) {
  MeanStd out;
  if (values.empty()) return out;
  for (double v : values) out.mean += v;
  out.mean /= values.size();
  for (double v : values) out.stddev += (v - out.mean) * (v - out.mean);
  out.stddev = std::sqrt(out.stddev / values.size());
  return out;
}

std::vector<const Curve*> CurvesOf(const std::vector<Curve>& curves,
                                   const std::string& variant) {
  std::vector<const Curve*> out;
  for (const Curve& c : curves) {
    if (c.variant == variant && !c.points.empty()) out.push_back(&c);
  }
  return out;
}

std::string FormatReach(const std::vector<const Curve*>& curves,
                        double threshold) {
  std::vector<double> steps;
  for (const Curve* c : curves) {
    if (std::optional<int> s = StepsToReach(*c, threshold)) {
      steps.push_back(*s);
    }
  }
  if (steps.empty()) return "not reached";
  const MeanStd s = Stats(steps);
  std::string out = absl::StrFormat("%.0f ± %.0f", s.mean, s.stddev);
  if (steps.size() < curves.size()) {
    absl::StrAppend(&out, " (", steps.size(), "/", curves.size(), " seeds)");
  }
  return out;
}

// One block per variant, separated by two blank lines so that gnuplot can
// address it with `index`: step, mean, min, max over seeds.
absl::Status WriteMeanCurves(const std::string& path,
                             const std::vector<Curve>& curves,
                             const std::vector<std::string>& variants) {
  std::ofstream out(path);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  for (const std::string& variant : variants) {
    const std::vector<const Curve*> runs = CurvesOf(curves, variant);
    size_t length = runs.empty() ? 0 : std::numeric_limits<size_t>::max();
    for (const Curve* c : runs) length = std::min(length, c->points.size());
    out << "# " << variant << "\n";
    for (size_t i = 0; i < length; ++i) {
      double sum = 0, low = runs[0]->points[i].value, high = low;
      for (const Curve* c : runs) {
        sum += c->points[i].value;
        low = std::min(low, c->points[i].value);
        high = std::max(high, c->points[i].value);
      }
      out << runs[0]->points[i].step << " " << sum / runs.size() << " " << low
          << " " << high << "\n";
    }
    out << "\n\n";
  }
  return out ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("cannot write ", path));
}

std::string PlotScript(const std::string& name,
                       const std::vector<std::string>& variants,
                       const PlotOptions& options) {
  std::string script = absl::StrCat(
      "set terminal pngcairo size 1000,650 font 'sans,11'\n",
      // Plain text: names like M_global must not turn into subscripts.
      "set termoption noenhanced\n", "set output '", name, ".png'\n",
      "set title '", options.title, "'\n", "set xlabel 'optimizer steps'\n",
      "set ylabel '", options.value_label, "'\n",
      "set grid\nset key top right\n",
      options.log_scale ? "set logscale y\n" : "", "plot ");
  const std::string data = absl::StrCat("'", name, ".dat'");
  for (size_t i = 0; i < variants.size(); ++i) {
    absl::StrAppend(&script, data, " index ", i,
                    " using 1:3:4 with filledcurves fs transparent solid 0.15 "
                    "noborder lc ",
                    i + 1, " notitle, \\\n  ", data, " index ", i,
                    " using 1:2 with lines lw 2 lc ", i + 1, " title '",
                    variants[i], "', \\\n  ");
  }
  if (options.threshold) {
    absl::StrAppend(&script, *options.threshold,
                    " with lines dt 2 lw 1.5 lc rgb 'black' title "
                    "'threshold'\n");
  } else {
    // Drops the trailing ", \\\n  " of the last series.
    script.resize(script.size() - 5);
    script += "\n";
  }
  return script;
}

}  // namespace

std::optional<int> StepsToReach(const Curve& curve, double threshold) {
  for (const CurvePoint& p : curve.points) {
    if (p.value <= threshold) return p.step;
  }
  return std::nullopt;
}

std::string FormatSummaryTable(const std::vector<Curve>& curves,
                               const std::vector<std::string>& variants,
                               double threshold,
                               const std::string& value_name) {
  std::string out = absl::StrFormat(
      "| variant | seeds | final %s | best %s | steps to %s <= %g |\n"
      "| --- | --- | --- | --- | --- |\n",
      value_name, value_name, value_name, threshold);
  for (const std::string& variant : variants) {
    const std::vector<const Curve*> runs = CurvesOf(curves, variant);
    std::vector<double> finals, bests;
    for (const Curve* c : runs) {
      finals.push_back(c->points.back().value);
      double best = c->points[0].value;
      for (const CurvePoint& p : c->points) best = std::min(best, p.value);
      bests.push_back(best);
    }
    const MeanStd f = Stats(finals), b = Stats(bests);
    absl::StrAppendFormat(&out,
                          "| %s | %d | %.4g ± %.2g | %.4g ± %.2g | %s |\n",
                          variant, runs.size(), f.mean, f.stddev, b.mean,
                          b.stddev, FormatReach(runs, threshold));
  }
  return out;
}

absl::Status WriteCurvesCsv(const std::string& path,
                            const std::vector<Curve>& curves,
                            const std::string& value_name) {
  std::ofstream out(path);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  out << "variant,seed,step," << value_name << "\n";
  for (const Curve& c : curves) {
    for (const CurvePoint& p : c.points) {
      out << c.variant << "," << c.seed << "," << p.step << ","
          << absl::StrFormat("%.6g", p.value) << "\n";
    }
  }
  return out ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("cannot write ", path));
}

absl::Status PlotMeanCurves(const std::string& dir, const std::string& name,
                            const std::vector<Curve>& curves,
                            const std::vector<std::string>& variants,
                            const PlotOptions& options) {
  absl::Status status =
      WriteMeanCurves(absl::StrCat(dir, "/", name, ".dat"), curves, variants);
  if (!status.ok()) return status;
  const std::string script = absl::StrCat(name, ".gp");
  std::ofstream out(absl::StrCat(dir, "/", script));
  out << PlotScript(name, variants, options);
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", script));
  return RunGnuplot(dir, script);
}

absl::Status RunGnuplot(const std::string& dir, const std::string& script) {
  const std::string command =
      absl::StrCat("cd '", dir, "' && gnuplot '", script, "' 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot start gnuplot");
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int rc = pclose(pipe);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(
        "gnuplot ", script, " failed (status ", rc, "): ", output));
  }
  return absl::OkStatus();
}

}  // namespace lrmem::report
