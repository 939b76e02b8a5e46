// A synthetic learner for the networked scenarios: a training session on a
// memory whose gradients are fixed random vectors, two per group used in
// turn, so that every step carries a change for the memory to learn from.
//
// A step whose signals exceed `max_message_floats` goes out as several
// messages, each carrying whole groups, because the protocol cannot split
// one group's signal across messages. Each message is a step of the memory
// of its own.

#ifndef LRMEM_BENCH_BENCH_LEARNER_H_
#define LRMEM_BENCH_BENCH_LEARNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lrmem/client.h"
#include "lrmem/learner_session.h"

namespace lrmem::bench {

struct BenchLearnerOptions {
  std::string memory;
  std::string learner_id = "learner";
  // Total parameters, split into groups of at most `group_size`.
  int64_t parameters = 10000;
  int64_t group_size = 1000000;
  SessionMode mode = SessionMode::kRates;
  // Most floats one message may carry.
  int64_t max_message_floats = int64_t{8} << 20;
  unsigned seed = 1;
};

class BenchLearner {
 public:
  // Opens the session, creating the memory with the default config when
  // missing. Errors as LearnerSession::Open; INVALID_ARGUMENT when one
  // group alone exceeds max_message_floats.
  static absl::StatusOr<std::unique_ptr<BenchLearner>> Open(
      Client* client, const BenchLearnerOptions& options);

  // One training step over every group. The first error ends the step.
  absl::Status Step();

  int messages_per_step() const { return static_cast<int>(messages_.size()); }
  int groups() const { return static_cast<int>(gradients_[0].size()); }

 private:
  BenchLearner() = default;
  void PlanMessages(int64_t max_message_floats);

  std::unique_ptr<LearnerSession> session_;
  // Two gradients per group, in declaration order.
  std::vector<std::vector<float>> gradients_[2];
  // The groups each message carries.
  std::vector<std::vector<size_t>> messages_;
  std::vector<std::vector<float>> rates_;
  int turn_ = 0;
};

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_BENCH_LEARNER_H_
