#include "experiments/dynamics/arm_simulation.h"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace lrmem::dynamics {
namespace {

using JointVector = std::array<double, kNumJoints>;

// Controller gains, stiff at the heavy base joints and soft at the wrist, so
// that every joint tracks within a few hundredths of a radian.
constexpr JointVector kStiffness = {400, 400, 200, 200, 60, 60, 20};
constexpr JointVector kDamping = {40, 40, 20, 20, 6, 6, 2};

// Torque noise: an Ornstein-Uhlenbeck process per joint with this standard
// deviation (N m, before SimulationOptions::torque_noise_scale) and
// correlation time. Correlated noise moves the arm off its reference in a
// way the controller then has to correct, which is what excites the
// dynamics beyond the nominal motion.
constexpr JointVector kNoiseStddev = {4.0, 4.0, 2.0, 2.0, 0.6, 0.6, 0.2};
constexpr double kNoiseCorrelationTime = 0.02;  // s

// Key poses of a lift: resting, reaching down to the object in front of
// the base, lifted, and set down elsewhere. Each trajectory perturbs them.
constexpr JointVector kRestPose = {0.0, 0.2, 0.0, 0.8, 0.0, 0.5, 0.0};
constexpr JointVector kGraspPose = {0.0, 0.9, 0.0, 1.3, 0.0, 0.6, 0.0};
constexpr JointVector kLiftPose = {0.0, 0.1, 0.0, 0.6, 0.0, 0.4, 0.0};
constexpr JointVector kPlacePose = {0.9, 0.7, 0.3, 1.1, -0.3, 0.5, 0.5};

struct ModelDeleter {
  void operator()(mjModel* m) const { mj_deleteModel(m); }
};
struct DataDeleter {
  void operator()(mjData* d) const { mj_deleteData(d); }
};
using ModelPtr = std::unique_ptr<mjModel, ModelDeleter>;
using DataPtr = std::unique_ptr<mjData, DataDeleter>;

absl::StatusOr<ModelPtr> LoadModel(const std::string& path) {
  char error[1000] = "";
  ModelPtr model(mj_loadXML(path.c_str(), nullptr, error, sizeof(error)));
  if (!model) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load arm model '", path, "': ", error));
  }
  if (model->nq != kNumJoints || model->nv != kNumJoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("arm model '", path, "' has ", model->nq,
                     " position coordinates, expected ", kNumJoints));
  }
  if (std::abs(model->opt.timestep - 0.001) > 1e-9) {
    return absl::InvalidArgumentError(
        absl::StrCat("arm model '", path, "' steps ", model->opt.timestep,
                     " s, expected 0.001 s"));
  }
  return model;
}

// A piecewise minimum-jerk path through waypoints: position and velocity
// start and end every segment at rest, with continuous acceleration, so the
// reference looks like a planned pick-and-place motion.
class ReferencePath {
 public:
  struct Segment {
    JointVector from;
    JointVector to;
    double duration;  // s
  };

  explicit ReferencePath(std::vector<Segment> segments)
      : segments_(std::move(segments)) {}

  // Position and velocity at time t; holds the last waypoint afterwards.
  void Sample(double t, JointVector& q, JointVector& qd) const {
    for (const Segment& s : segments_) {
      if (t <= s.duration) return Interpolate(s, t, q, qd);
      t -= s.duration;
    }
    q = segments_.back().to;
    qd.fill(0.0);
  }

 private:
  static void Interpolate(const Segment& s, double t, JointVector& q,
                          JointVector& qd) {
    const double u = t / s.duration;
    const double shape = u * u * u * (10 - 15 * u + 6 * u * u);
    const double slope = 30 * u * u * (1 - u) * (1 - u) / s.duration;
    for (int j = 0; j < kNumJoints; ++j) {
      q[j] = s.from[j] + shape * (s.to[j] - s.from[j]);
      qd[j] = slope * (s.to[j] - s.from[j]);
    }
  }

  std::vector<Segment> segments_;
};

JointVector Perturb(const JointVector& pose, double spread,
                    std::mt19937_64& rng) {
  std::uniform_real_distribution<double> offset(-spread, spread);
  JointVector out = pose;
  for (double& q : out) q += offset(rng);
  return out;
}

// Rest, grasp, lift, place and back, every pose and duration drawn anew.
ReferencePath RandomLift(int steps, std::mt19937_64& rng) {
  const JointVector rest = Perturb(kRestPose, 0.2, rng);
  const JointVector grasp = Perturb(kGraspPose, 0.3, rng);
  const JointVector lift = Perturb(kLiftPose, 0.3, rng);
  const JointVector place = Perturb(kPlacePose, 0.4, rng);
  const JointVector poses[] = {rest, grasp, lift, place, rest};
  const double total = steps * 0.001;
  std::uniform_real_distribution<double> share(0.8, 1.2);
  std::vector<ReferencePath::Segment> segments;
  for (int i = 0; i + 1 < 5; ++i) {
    segments.push_back({poses[i], poses[i + 1], total / 4 * share(rng)});
  }
  return ReferencePath(std::move(segments));
}

class NoisyTracker {
 public:
  NoisyTracker(double noise_scale, uint64_t seed) : rng_(seed) {
    for (int j = 0; j < kNumJoints; ++j) {
      stddev_[j] = kNoiseStddev[j] * noise_scale;
    }
    noise_.fill(0.0);
  }

  // PD on the tracking error plus the bias forces (gravity, Coriolis and
  // centrifugal) of the current state, plus noise. REQUIRES: mj_step1 has
  // run on `d`, so d->qfrc_bias belongs to the current state.
  void Control(const mjData& d, const JointVector& q_ref,
               const JointVector& qd_ref, double dt, JointVector& tau) {
    std::normal_distribution<double> normal;
    const double decay = dt / kNoiseCorrelationTime;
    for (int j = 0; j < kNumJoints; ++j) {
      noise_[j] +=
          -decay * noise_[j] + stddev_[j] * std::sqrt(2 * decay) * normal(rng_);
      tau[j] = d.qfrc_bias[j] + kStiffness[j] * (q_ref[j] - d.qpos[j]) +
               kDamping[j] * (qd_ref[j] - d.qvel[j]) + noise_[j];
    }
  }

 private:
  std::mt19937_64 rng_;
  JointVector stddev_;
  JointVector noise_;
};

void RecordState(const mjData& d, float* out) {
  for (int j = 0; j < kNumJoints; ++j) {
    out[j] = static_cast<float>(d.qpos[j]);
    out[kNumJoints + j] = static_cast<float>(d.qvel[j]);
  }
}

absl::StatusOr<Trajectory> Simulate(const mjModel& model, int steps,
                                    double noise_scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const ReferencePath path = RandomLift(steps, rng);
  NoisyTracker tracker(noise_scale, rng());
  DataPtr data(mj_makeData(&model));
  mjData& d = *data;

  // Start at rest on the reference.
  JointVector q_ref, qd_ref, tau;
  path.Sample(0.0, q_ref, qd_ref);
  for (int j = 0; j < kNumJoints; ++j) d.qpos[j] = q_ref[j];
  mj_forward(&model, &d);

  Trajectory out;
  out.num_steps = steps;
  out.states.resize((steps + 1) * kStateSize);
  out.torques.resize(steps * kNumJoints);
  RecordState(d, &out.states[0]);
  const double dt = model.opt.timestep;
  for (int t = 0; t < steps; ++t) {
    // The split step lets the controller read this state's bias forces
    // before the torques are integrated.
    mj_step1(&model, &d);
    path.Sample(t * dt, q_ref, qd_ref);
    tracker.Control(d, q_ref, qd_ref, dt, tau);
    for (int j = 0; j < kNumJoints; ++j) {
      d.qfrc_applied[j] = tau[j];
      out.torques[t * kNumJoints + j] = static_cast<float>(tau[j]);
    }
    mj_step2(&model, &d);
    RecordState(d, &out.states[(t + 1) * kStateSize]);
    if (!std::isfinite(d.qvel[0]) || d.warning[mjWARN_BADQACC].number > 0) {
      return absl::InternalError(absl::StrCat(
          "arm simulation diverged at step ", t, " (seed ", seed, ")"));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Trajectory>> SimulateTrajectories(
    const SimulationOptions& options, const std::vector<uint64_t>& seeds) {
  absl::StatusOr<ModelPtr> model = LoadModel(options.model_path);
  if (!model.ok()) return model.status();
  std::vector<Trajectory> out;
  for (uint64_t seed : seeds) {
    absl::StatusOr<Trajectory> trajectory =
        Simulate(**model, options.steps_per_trajectory,
                 options.torque_noise_scale, seed);
    if (!trajectory.ok()) return trajectory.status();
    out.push_back(*std::move(trajectory));
  }
  return out;
}

}  // namespace lrmem::dynamics
