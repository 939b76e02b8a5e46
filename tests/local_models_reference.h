// A direct double-precision evaluation of the memory's formulas over every
// local model, with no window and no grid, and the configs and signals that
// the LocalModels and SignalGrid tests sweep. Shared by those tests.

#ifndef LRMEM_TESTS_LOCAL_MODELS_REFERENCE_H_
#define LRMEM_TESTS_LOCAL_MODELS_REFERENCE_H_

#include <memory>
#include <random>
#include <vector>

#include "common/local_models.h"

namespace lrmem {
namespace reference {

// Rates and statistics agree with the full double evaluation within these
// bounds (see the sweep tests), made of three parts:
// - float rounding: a rate within kRateRelativeBound of itself, a statistic
//   entry within kStatisticRelativeBound of the mean magnitude of its terms;
// - rounding of the exponents -(z - c)^2 / (2 sigma^2), which matters for
//   narrow widths far from every center, where exponents reach 1e5 and the
//   rate is ill-conditioned in float: kExponentUlps float epsilons of each
//   exponent (plus one), weighted by how much the result moves with it;
// - the documented cut-off: local models whose activation is below
//   exp(-kWindowLogCutoff) of the largest may be left out, so their whole
//   contribution is allowed as error. Relative to a rate this is not small
//   when neighbouring values differ by many decades (the sweep prints the
//   largest relative error).
constexpr double kRateRelativeBound = 1e-6;
constexpr double kStatisticRelativeBound = 5e-7;
constexpr double kStatisticAbsoluteBound = 1e-30;
constexpr double kExponentUlps = 4.0;

double Clip(double z, double clip);

// log psi_m(z) for the clipped signal, in double, from the centers and
// widths the models expose.
double LogActivation(const LocalModels& models, int m, double z);

// eta(z) = sum psi v / sum psi over every local model. Exponents are taken
// relative to the largest one, which changes nothing mathematically and
// gives the limit (the nearest centers' values) where every psi underflows.
// `sensitivity`, when given, receives sum psi |v - eta| (|log psi| + 1) /
// sum psi: the change of eta when every exponent moves by its own size
// plus one; `cut_off` the change of eta when every local model below the
// cut-off is left out.
double ReferenceRate(const LocalModels& models,
                     const std::vector<float>& values, double z,
                     double* sensitivity = nullptr, double* cut_off = nullptr);

double Change(ChangeRule rule, double previous, double current);

// statistic[m] = mean_i change_i * psi_m(previous_i); in `scale` the mean
// of |change_i| * psi_m(previous_i), the size of its terms, and in
// `cut_off` the part of that mean which the cut-off may leave out.
void ReferenceStatistic(const LocalModels& models,
                        const std::vector<float>& previous,
                        const std::vector<float>& current,
                        std::vector<double>* statistic,
                        std::vector<double>* scale,
                        std::vector<double>* cut_off);

// LocalModels::Create, failing the current test on an error.
std::shared_ptr<const LocalModels> MakeModels(const MemoryConfig& config);
MemoryConfig EvenConfig(int size, float clip, float width_scale);
MemoryConfig LogConfig(int size, float clip, float smallest, float width_scale);

// Signals that probe every regime: zero, subnormal and tiny magnitudes, the
// centers and the points between them, the clip range and beyond it, and
// random ones on linear and logarithmic scales.
std::vector<float> SweepSignals(const LocalModels& models, std::mt19937* rng);

// Both layouts at several sizes and clip ranges, each with widths from far
// narrower to far wider than the spacing.
std::vector<MemoryConfig> SweepConfigs();

// Values spread log-uniformly over [lr_min, lr_max], with both extremes.
std::vector<float> RandomValues(const MemoryConfig& config, int size,
                                std::mt19937* rng);

}  // namespace reference
}  // namespace lrmem

#endif  // LRMEM_TESTS_LOCAL_MODELS_REFERENCE_H_
