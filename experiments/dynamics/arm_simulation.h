// Recordings of a simulated seven-joint arm for learning its forward
// dynamics: the arm (experiments/dynamics/arm7.xml, simulated by MuJoCo)
// follows smooth lifting motions under a tracking controller whose torques
// carry random noise, and every 1 ms step records the state (joint positions
// and velocities) and the applied torques.
//
// The motions are random but seeded: a trajectory depends on nothing but the
// model file, its seed and its length. No torch here.

#ifndef LRMEM_EXPERIMENTS_DYNAMICS_ARM_SIMULATION_H_
#define LRMEM_EXPERIMENTS_DYNAMICS_ARM_SIMULATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lrmem::dynamics {

inline constexpr int kNumJoints = 7;
inline constexpr int kStateSize = 2 * kNumJoints;  // positions, velocities

// One recorded run. Step t applied torques[t] to states[t] and reached
// states[t + 1].
struct Trajectory {
  int num_steps = 0;
  std::vector<float> states;   // (num_steps + 1) * kStateSize, row-major
  std::vector<float> torques;  // num_steps * kNumJoints, row-major

  const float* State(int t) const { return &states[t * kStateSize]; }
  const float* Torque(int t) const { return &torques[t * kNumJoints]; }
};

struct SimulationOptions {
  // The MJCF model; it must have exactly kNumJoints hinge joints and a
  // 1 ms time step.
  std::string model_path;
  // Recorded steps per trajectory (1 ms each).
  int steps_per_trajectory = 4000;
  // Multiplies the standard deviation of the controller's torque noise,
  // which is chosen per joint relative to the torques it needs to lift.
  double torque_noise_scale = 1.0;
};

// Simulates one trajectory per seed. INVALID_ARGUMENT when the model cannot
// be loaded or does not have the expected shape (the message carries
// MuJoCo's own error); INTERNAL when the simulation diverges.
absl::StatusOr<std::vector<Trajectory>> SimulateTrajectories(
    const SimulationOptions& options, const std::vector<uint64_t>& seeds);

}  // namespace lrmem::dynamics

#endif  // LRMEM_EXPERIMENTS_DYNAMICS_ARM_SIMULATION_H_
