// LiveMemory: one memory hosted by the server. It owns the Memory behind a
// lock of its own, persists every change to the Store before the change
// becomes visible, and keeps what the server remembers per learner in RAM
// (the previous gradient signals and the last answer).
//
// Only the O(M)-per-group merge of a step runs under the lock; the O(D * M)
// work (statistics, rates) runs outside it, on data copied out, so learners
// sharing a memory overlap their heavy work and learners on different
// memories never wait on each other.
//
// Thread-safety: all methods are thread-safe. Lock order: a LearnerState's
// lock before the memory's lock; the registry's lock before both.

#ifndef LRMEM_SERVER_LIVE_MEMORY_H_
#define LRMEM_SERVER_LIVE_MEMORY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/local_models.h"
#include "common/memory.h"
#include "common/signal_history.h"
#include "lrmem/v1/service.pb.h"
#include "server/store.h"

namespace lrmem {

// What the server keeps in RAM about one learner of one memory. Lost on a
// restart, which the protocol tolerates: a learner without history simply
// contributes no statistic on its next step.
struct LearnerState {
  // Held for a whole step of this learner, so that two streams using the
  // same learner id cannot interleave their steps.
  absl::Mutex mu;
  // The previous gradient signal per group (rates mode).
  std::map<std::string, SignalHistory, std::less<>> histories
      ABSL_GUARDED_BY(mu);
  // What the answer to the last applied step was, to send it again when
  // the step is resent. In rates mode it keeps each group's values instead
  // of its learning rates (O(M) instead of O(D)); the rates are predicted
  // again from them and the signal in `histories`, which is the step's.
  std::optional<v1::StepResult> last_result ABSL_GUARDED_BY(mu);
  v1::SessionMode last_result_mode ABSL_GUARDED_BY(mu) =
      v1::SESSION_MODE_UNSPECIFIED;
  // LiveMemory::View::generation when last_result was computed.
  uint64_t last_result_generation ABSL_GUARDED_BY(mu) = 0;
};

class LiveMemory {
 public:
  struct Options {
    // How long the RAM state of a learner with no open session is kept
    // (see OpenLearner).
    absl::Duration learner_idle_timeout = absl::Minutes(10);
    // Most groups the memory may hold; a step that would add more is
    // refused (see ApplyStep).
    size_t max_groups = 1024;
  };

  // `store` must outlive this object.
  LiveMemory(std::string name, Memory memory, Store* store,
             const Options& options);

  LiveMemory(const LiveMemory&) = delete;
  LiveMemory& operator=(const LiveMemory&) = delete;

  const std::string& name() const { return name_; }

  // A consistent reading of the memory taken at the start of a step.
  struct View {
    std::shared_ptr<const LocalModels> models;
    uint64_t last_sequence = 0;
    uint64_t steps = 0;
    // Changes whenever the whole memory is replaced (restore, import).
    uint64_t generation = 0;
    bool deleted = false;
  };
  View Look(absl::string_view learner_id) const;

  // One group's part of a step.
  struct GroupUpdate {
    std::string group;
    // Parameter count the learner declared for the group.
    uint64_t size = 0;
    // M entries, or empty when the learner has no statistic this step.
    std::vector<float> statistic;
  };
  // What a step leaves behind.
  struct Outcome {
    // The local models the values belong to.
    std::shared_ptr<const LocalModels> models;
    // The memory's step count afterwards.
    uint64_t steps = 0;
    // values[i]: the values of updates[i].group after the step.
    std::vector<std::vector<float>> values;
  };

  // Applies one learner step, all or nothing: every group's statistic, the
  // step count and the learner's sequence number, written to the store
  // before the change becomes visible. On any error nothing changed:
  //   NOT_FOUND            the memory was deleted;
  //   ABORTED              it was replaced since `seen` was taken;
  //   FAILED_PRECONDITION  `sequence` is not above the learner's last one;
  //   INVALID_ARGUMENT     a statistic has the wrong length or is not finite;
  //   RESOURCE_EXHAUSTED   the step's new groups would exceed max_groups;
  //   store errors         the write failed.
  absl::StatusOr<Outcome> ApplyStep(absl::string_view learner_id,
                                    uint64_t sequence, const View& seen,
                                    const std::vector<GroupUpdate>& updates);

  // The current values of the named groups (a fresh group's values for a
  // group the memory does not have), changing nothing.
  Outcome CurrentValues(const std::vector<std::string>& groups) const;

  // The full state, as persisted.
  v1::MemoryState State() const;
  // A description for the admin API.
  v1::MemoryInfo Info(bool include_values) const;

  // Replaces the whole memory (restore or import over an existing name),
  // persisting it first. Open sessions continue on the new contents.
  absl::Status Replace(Memory memory);

  // Deletes the memory from the store and marks it deleted, so that open
  // sessions end at their next step.
  absl::Status MarkDeleted();

  // The RAM state of a learner for a session that starts using it, created
  // on first use. Every OpenLearner is paired with a CloseLearner when the
  // session ends. A state without sessions is kept for the idle timeout, so
  // that a learner reconnecting after a broken connection finds its
  // previous signals and its last answer; after that it is dropped (at the
  // next OpenLearner or CloseLearner of this memory), and the learner's
  // next step contributes no statistic while a resent step is answered
  // from the current values, as after a restart.
  std::shared_ptr<LearnerState> OpenLearner(absl::string_view learner_id);
  void CloseLearner(absl::string_view learner_id);
  // Drops the learner states idle for longer than the timeout now; the
  // server calls it periodically, so that a memory nobody opens or closes
  // sessions on does not keep them.
  void DropIdleLearners();
  // Learner states held in RAM.
  size_t learner_states() const;

  // Training sessions currently open on this memory.
  void AddSession() { active_sessions_.fetch_add(1); }
  void RemoveSession() { active_sessions_.fetch_sub(1); }
  int active_sessions() const { return active_sessions_.load(); }

 private:
  absl::Status CheckStepAllowed(uint64_t sequence, absl::string_view learner_id,
                                const View& seen) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::string name_;
  Store* const store_;
  std::atomic<int> active_sessions_{0};

  mutable absl::Mutex mu_;
  Memory memory_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool deleted_ ABSL_GUARDED_BY(mu_) = false;
  // Drops the states idle for longer than the timeout.
  void DropIdleLearners(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct LearnerEntry {
    std::shared_ptr<LearnerState> state;
    int sessions = 0;
    // When `sessions` last dropped to zero.
    absl::Time idle_since;
  };
  const Options options_;
  absl::flat_hash_map<std::string, LearnerEntry> learners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_LIVE_MEMORY_H_
