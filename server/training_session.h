// TrainingSession: the server side of one Train stream, independent of the
// transport. The first request opens the session on a memory; every later
// request is one learner step.
//
// Two kinds of failure:
//   - a returned non-OK status ends the session (first request not an
//     `open`, unknown memory, invalid names, memory deleted meanwhile);
//   - a step that cannot be applied comes back as an OK StepResult whose
//     `error` is set; nothing of it was applied and the session goes on.
//
// A step in rates mode, for each of its groups:
//   1. outside any lock, the statistic of the learner's previous and
//      current gradient signals (none on the group's first step);
//   2. under the memory's lock, the statistics merged into the values, the
//      step counted and persisted (LiveMemory::ApplyStep);
//   3. outside the lock, the rates predicted from the new values at the
//      current signals, which then become the previous ones.
// In statistics mode the learner computes 1 and 3 itself with the same
// code, so both modes give the same rates for the same inputs.
//
// Thread-safety: one thread at a time per session (a stream delivers its
// messages in order). Sessions are independent of each other.

#ifndef LRMEM_SERVER_TRAINING_SESSION_H_
#define LRMEM_SERVER_TRAINING_SESSION_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lrmem/v1/service.pb.h"
#include "server/live_memory.h"
#include "server/memory_registry.h"
#include "server/metrics.h"

namespace lrmem {

class TrainingSession {
 public:
  struct Options {
    // Most groups one session may declare (RESOURCE_EXHAUSTED beyond).
    size_t max_groups_per_session = 1024;
    // Most floats (signals or statistics, all groups together) in one step;
    // a larger step is rejected with RESOURCE_EXHAUSTED. LrmemServer reads
    // 0 as "as many as fit in a message with their answer".
    size_t max_values_per_message = size_t{16} << 20;
    // Where steps, rejections, sessions and bytes are counted; not owned,
    // may be null (default).
    Metrics* metrics = nullptr;
  };

  // `registry` must outlive the session.
  TrainingSession(const Options& options, MemoryRegistry* registry);
  // Closes the session on its memory.
  ~TrainingSession();

  TrainingSession(const TrainingSession&) = delete;
  TrainingSession& operator=(const TrainingSession&) = delete;

  // Handles the next request of the stream; see the file comment for what
  // a non-OK status means.
  absl::StatusOr<v1::TrainResponse> Handle(const v1::TrainRequest& request);

  // Whether an `open` succeeded.
  bool is_open() const { return memory_ != nullptr; }

 private:
  // A step's group, checked and unpacked.
  struct ParsedGroup {
    const v1::GroupSpec* spec = nullptr;
    std::vector<float> signal;     // rates mode
    std::vector<float> statistic;  // statistics mode, may be empty
  };

  absl::StatusOr<v1::TrainResponse> HandleRequest(
      const v1::TrainRequest& request);
  absl::StatusOr<v1::SessionOpened> Open(const v1::OpenSession& open);
  absl::Status CheckOpen(const v1::OpenSession& open);
  absl::StatusOr<v1::StepResult> Step(const v1::Step& step);
  absl::Status ParseStep(const v1::Step& step, const LocalModels& models,
                         std::vector<ParsedGroup>* groups);
  absl::Status ParseGroup(const v1::GroupStep& group_step,
                          const LocalModels& models, ParsedGroup* parsed);
  absl::StatusOr<v1::StepResult> Apply(const v1::Step& step,
                                       const LiveMemory::View& view,
                                       std::vector<ParsedGroup>& groups)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(learner_->mu);
  absl::StatusOr<v1::StepResult> Replay(const v1::Step& step,
                                        const LiveMemory::View& view,
                                        std::vector<ParsedGroup>& groups)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(learner_->mu);
  // Fills `result` from the values after the step, remembers the signals
  // (rates mode) and keeps what a resent step needs to be answered again.
  void Answer(const LocalModels& models, uint64_t generation,
              std::vector<ParsedGroup>& groups,
              const LiveMemory::Outcome& outcome, v1::StepResult* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(learner_->mu);
  // Whether the answer Answer kept is the answer to this resent step: the
  // same sequence number on the same contents, in this session's mode, for
  // the same groups. Otherwise a resent step is answered from the current
  // values, as after a restart.
  bool CanAnswerAgain(const v1::Step& step, const LiveMemory::View& view,
                      const std::vector<ParsedGroup>& groups)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(learner_->mu);
  // The answer Answer gave to the last applied step, rebuilt from what it
  // kept.
  v1::StepResult AnswerAgain(const LocalModels& models)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(learner_->mu);
  absl::Status MemoryGone() const;
  void Count(const v1::TrainRequest& request,
             const absl::StatusOr<v1::TrainResponse>& response) const;

  const Options options_;
  MemoryRegistry* const registry_;

  // Set by Open.
  std::shared_ptr<LiveMemory> memory_;
  std::shared_ptr<LearnerState> learner_;
  std::string learner_id_;
  v1::SessionMode mode_ = v1::SESSION_MODE_UNSPECIFIED;
  absl::flat_hash_map<std::string, v1::GroupSpec> groups_;
  // The local models the session was opened on; in statistics mode the
  // learner's statistics are computed against them.
  std::shared_ptr<const LocalModels> opened_models_;

  // Storage reused from step to step, so that large groups cost no fresh
  // allocation (and no page faults) per step: signal buffers handed back
  // by the learner's history, and the rates of the group being answered.
  std::vector<std::vector<float>> spare_signals_;
  std::vector<float> rates_;
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_TRAINING_SESSION_H_
