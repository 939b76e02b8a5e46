#include "experiments/mnist/mnist_report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lrmem::mnist {
namespace {

namespace fs = std::filesystem;

struct MeanStd {
  double mean = 0;
  double stddev = 0;
};

// Sample standard deviation; 0 for fewer than two values.
MeanStd Moments(const std::vector<double>& values) {
  MeanStd m;
  if (values.empty()) return m;
  for (double v : values) m.mean += v;
  m.mean /= values.size();
  if (values.size() < 2) return m;
  double sum_sq = 0;
  for (double v : values) sum_sq += (v - m.mean) * (v - m.mean);
  m.stddev = std::sqrt(sum_sq / (values.size() - 1));
  return m;
}

std::vector<const Curve*> Select(const std::vector<Curve>& curves,
                                 Variant variant, const std::string& task) {
  std::vector<const Curve*> out;
  for (const Curve& c : curves) {
    if (c.variant == variant && c.task == task) out.push_back(&c);
  }
  return out;
}

std::string ReachCell(const ReachSummary& s) {
  if (s.seeds == 0) return "-";
  if (s.reached == 0) return "not reached";
  std::string cell = s.reached > 1
                         ? absl::StrFormat("%.0f ± %.0f", s.mean, s.stddev)
                         : absl::StrFormat("%.0f", s.mean);
  if (s.reached < s.seeds) {
    absl::StrAppend(&cell, " (", s.reached, "/", s.seeds, " seeds)");
  }
  return cell;
}

// Display width of a UTF-8 string, counting each code point once.
int DisplayWidth(const std::string& s) {
  int width = 0;
  for (unsigned char c : s) width += (c & 0xC0) != 0x80;
  return width;
}

std::string Pad(const std::string& s, int width) {
  return s + std::string(std::max(0, width - DisplayWidth(s)), ' ');
}

// The mean curve of one variant on one task, point by point over seeds.
// Seeds share their measurement points, so they line up index by index.
std::vector<CurvePoint> MeanCurve(const std::vector<const Curve*>& curves) {
  std::vector<CurvePoint> mean;
  if (curves.empty()) return mean;
  mean = curves.front()->points;
  for (size_t i = 0; i < mean.size(); ++i) {
    double sum = 0;
    int n = 0;
    for (const Curve* c : curves) {
      if (i < c->points.size()) {
        sum += c->points[i].accuracy;
        ++n;
      }
    }
    mean[i].accuracy = sum / n;
  }
  return mean;
}

// gnuplot reads whitespace-separated columns; variant names have none.
absl::Status WriteMeanCurves(const fs::path& path,
                             const std::vector<Curve>& curves,
                             const std::vector<Variant>& variants,
                             const std::string& task) {
  std::vector<std::vector<CurvePoint>> means;
  for (Variant v : variants)
    means.push_back(MeanCurve(Select(curves, v, task)));
  std::ofstream out(path);
  out << "samples";
  for (Variant v : variants) out << ' ' << VariantName(v);
  out << '\n';
  const size_t rows = means.empty() ? 0 : means.front().size();
  for (size_t i = 0; i < rows; ++i) {
    out << means.front()[i].samples;
    for (const auto& m : means) {
      if (i < m.size()) {
        out << ' ' << m[i].accuracy;
      } else {
        out << " NaN";
      }
    }
    out << '\n';
  }
  if (!out)
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

// One row per task: name, then censored mean and stddev per variant.
absl::Status WriteReachBars(const fs::path& path,
                            const std::vector<Curve>& curves,
                            const std::vector<Variant>& variants,
                            const std::vector<std::string>& tasks,
                            double threshold, int budget) {
  std::ofstream out(path);
  // A comment line: the histogram style would read a header as a row.
  out << "# task";
  for (Variant v : variants) out << ' ' << VariantName(v) << " std";
  out << '\n';
  for (const std::string& task : tasks) {
    out << task;
    for (Variant v : variants) {
      const ReachSummary s = SummarizeReach(curves, v, task, threshold, budget);
      out << ' ' << s.censored_mean << ' ' << s.censored_stddev;
    }
    out << '\n';
  }
  if (!out)
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

std::string GnuplotScript(const std::vector<Variant>& variants,
                          const std::vector<std::string>& tasks,
                          double threshold, int budget) {
  const int n = static_cast<int>(variants.size());
  std::string gp = absl::StrCat(
      "set terminal pngcairo size 1400,1000 font 'sans,10'\n",
      "set output 'curves.png'\n",
      "set multiplot layout 2,2 title 'Online binary MNIST: test accuracy "
      "(mean over seeds) and samples to ",
      threshold * 100, "%'\n", "set key bottom right opaque\n", "set grid\n",
      "set xlabel 'samples seen (one update each)'\n",
      "set ylabel 'test accuracy'\n", "set yrange [0.5:1.0]\n",
      "set xrange [0:", budget, "]\n");
  for (const std::string& task : tasks) {
    absl::StrAppend(&gp, "set title 'task ", task, "'\n",
                    "plot for [i=2:", n + 1, "] 'mean_curves_", task,
                    ".dat' using 1:i with lines lw 2 title columnheader(i), ",
                    threshold, " with lines dt 2 lc 'black' notitle\n");
  }
  absl::StrAppend(&gp, "set title 'samples to ", threshold * 100,
                  "% (mean ± std; a seed that never got there counts as ",
                  budget, ")'\n", "set style data histogram\n",
                  "set style histogram errorbars gap 2 lw 1\n",
                  "set style fill solid 0.8 border -1\n", "set xrange [*:*]\n",
                  "set yrange [0:", budget * 1.4, "]\n", "set xlabel 'task'\n",
                  "set ylabel 'samples'\n",
                  "set key top left horizontal maxcols 2 width 2 opaque\n",
                  "plot ");
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&gp, i == 0 ? "'reach_bars.dat'" : ", ''", " using ",
                    2 + 2 * i, ":", 3 + 2 * i, i == 0 ? ":xtic(1)" : "",
                    " title '", VariantName(variants[i]), "'");
  }
  absl::StrAppend(&gp, "\nunset multiplot\n");
  return gp;
}

// Runs gnuplot on `script` inside `dir`, returning its output on failure.
absl::Status RunGnuplot(const fs::path& dir, const std::string& script) {
  const std::string command =
      absl::StrCat("cd '", dir.string(), "' && gnuplot '", script, "' 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot start gnuplot");
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int rc = pclose(pipe);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("gnuplot failed (status ", rc, "): ", output));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<int> SamplesToReach(const Curve& curve, double threshold) {
  for (const CurvePoint& p : curve.points) {
    if (p.accuracy >= threshold) return p.samples;
  }
  return std::nullopt;
}

ReachSummary SummarizeReach(const std::vector<Curve>& curves, Variant variant,
                            const std::string& task, double threshold,
                            int budget) {
  ReachSummary s;
  std::vector<double> reached;
  std::vector<double> censored;
  for (const Curve* c : Select(curves, variant, task)) {
    ++s.seeds;
    const std::optional<int> samples = SamplesToReach(*c, threshold);
    if (samples) reached.push_back(*samples);
    censored.push_back(samples ? *samples : budget);
  }
  s.reached = static_cast<int>(reached.size());
  const MeanStd r = Moments(reached);
  const MeanStd c = Moments(censored);
  s.mean = r.mean;
  s.stddev = r.stddev;
  s.censored_mean = c.mean;
  s.censored_stddev = c.stddev;
  return s;
}

std::string FormatReachTable(const std::vector<Curve>& curves,
                             const std::vector<Variant>& variants,
                             const std::vector<std::string>& tasks,
                             double threshold, int budget) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"variant"});
  for (const std::string& task : tasks) {
    rows[0].push_back(absl::StrCat("task ", task));
  }
  for (Variant v : variants) {
    std::vector<std::string> row = {VariantName(v)};
    for (const std::string& task : tasks) {
      row.push_back(
          ReachCell(SummarizeReach(curves, v, task, threshold, budget)));
    }
    rows.push_back(std::move(row));
  }

  std::vector<int> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string table = absl::StrCat("Samples to reach ", threshold * 100,
                                   "% test accuracy (mean ± std over seeds, "
                                   "of ",
                                   budget, " per task):\n");
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < rows[r].size(); ++i) {
      cells.push_back(Pad(rows[r][i], widths[i]));
    }
    absl::StrAppend(&table, "| ", absl::StrJoin(cells, " | "), " |\n");
    if (r == 0) {
      std::vector<std::string> rule;
      for (int w : widths) rule.push_back(std::string(w, '-'));
      absl::StrAppend(&table, "| ", absl::StrJoin(rule, " | "), " |\n");
    }
  }
  return table;
}

absl::Status WriteCurvesCsv(const std::string& path,
                            const std::vector<Curve>& curves) {
  std::ofstream out(path);
  out << "variant,seed,task,samples,accuracy\n";
  for (const Curve& c : curves) {
    for (const CurvePoint& p : c.points) {
      out << VariantName(c.variant) << ',' << c.seed << ',' << c.task << ','
          << p.samples << ',' << absl::StrFormat("%.4f", p.accuracy) << '\n';
    }
  }
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status WriteLearnedRatesCsv(const std::string& path,
                                  const std::vector<Curve>& curves) {
  std::ofstream out(path);
  out << "variant,seed,task,group,center,learning_rate\n";
  for (const Curve& c : curves) {
    for (const LearnedRates& rates : c.learned_rates) {
      for (size_t i = 0; i < rates.values.size(); ++i) {
        const float center = i < rates.centers.size() ? rates.centers[i] : 0;
        out << VariantName(c.variant) << ',' << c.seed << ',' << c.task << ','
            << rates.group << ',' << center << ','
            << absl::StrFormat("%g", rates.values[i]) << '\n';
      }
    }
  }
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status PlotCurves(const std::string& out_dir,
                        const std::vector<Curve>& curves,
                        const std::vector<Variant>& variants,
                        const std::vector<std::string>& tasks, double threshold,
                        int budget) {
  const fs::path dir(out_dir);
  for (const std::string& task : tasks) {
    absl::Status s =
        WriteMeanCurves(dir / absl::StrCat("mean_curves_", task, ".dat"),
                        curves, variants, task);
    if (!s.ok()) return s;
  }
  absl::Status s = WriteReachBars(dir / "reach_bars.dat", curves, variants,
                                  tasks, threshold, budget);
  if (!s.ok()) return s;

  const std::string script = "curves.gp";
  std::ofstream(dir / script)
      << GnuplotScript(variants, tasks, threshold, budget);
  return RunGnuplot(dir, script);
}

}  // namespace lrmem::mnist
