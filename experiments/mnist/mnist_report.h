// What the main job makes of its curves: the table of samples needed to
// reach a test accuracy, a CSV of every curve, and a PNG drawn by gnuplot.

#ifndef LRMEM_EXPERIMENTS_MNIST_MNIST_REPORT_H_
#define LRMEM_EXPERIMENTS_MNIST_MNIST_REPORT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "experiments/mnist/mnist_training.h"

namespace lrmem::mnist {

// The updates after which the curve first measured `threshold` or more, or
// nullopt when it never did.
std::optional<int> SamplesToReach(const Curve& curve, double threshold);

// Samples-to-threshold of one variant on one task, over seeds.
struct ReachSummary {
  int seeds = 0;    // curves looked at
  int reached = 0;  // of which reached the threshold
  double mean = 0;  // over the seeds that reached it
  double stddev = 0;
  // Over all seeds, counting one that never reached it as the whole
  // budget: what the bar chart shows, so a variant that fails does not look
  // fast.
  double censored_mean = 0;
  double censored_stddev = 0;
};

ReachSummary SummarizeReach(const std::vector<Curve>& curves, Variant variant,
                            const std::string& task, double threshold,
                            int budget);

// A plain-text table, one row per variant and one column per task, cells
// "mean ± std" (with "k/n seeds" when only some reached it) or
// "not reached".
std::string FormatReachTable(const std::vector<Curve>& curves,
                             const std::vector<Variant>& variants,
                             const std::vector<std::string>& tasks,
                             double threshold, int budget);

// One row per measurement: variant,seed,task,samples,accuracy.
absl::Status WriteCurvesCsv(const std::string& path,
                            const std::vector<Curve>& curves);

// The rates each memory had learned at the end of each task, one row per
// local model: variant,seed,task,group,center,learning_rate. Plain variants
// have none.
absl::Status WriteLearnedRatesCsv(const std::string& path,
                                  const std::vector<Curve>& curves);

// Writes the data files and the gnuplot script into `out_dir` and runs
// gnuplot, which draws `out_dir/curves.png`: the mean test accuracy of each
// variant on each task, and the samples-to-threshold bars. INTERNAL when
// gnuplot fails (its output is in the status message).
absl::Status PlotCurves(const std::string& out_dir,
                        const std::vector<Curve>& curves,
                        const std::vector<Variant>& variants,
                        const std::vector<std::string>& tasks, double threshold,
                        int budget);

}  // namespace lrmem::mnist

#endif  // LRMEM_EXPERIMENTS_MNIST_MNIST_REPORT_H_
