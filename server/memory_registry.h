// MemoryRegistry: the set of memories a server hosts, by exact name.
//
// The registry's lock covers only the name -> LiveMemory map: looking a
// memory up, adding and removing one. Steps hold a LiveMemory directly and
// never take this lock.
//
// Thread-safety: all methods are thread-safe.

#ifndef LRMEM_SERVER_MEMORY_REGISTRY_H_
#define LRMEM_SERVER_MEMORY_REGISTRY_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/memory.h"
#include "common/memory_config.h"
#include "server/live_memory.h"
#include "server/metrics.h"
#include "server/store.h"

namespace lrmem {

class MemoryRegistry {
 public:
  struct Options {
    // Most memories hosted at once; creating one more is RESOURCE_EXHAUSTED.
    size_t max_memories = 10000;
    // Given to every memory hosted: how long it keeps an idle learner's RAM
    // state, and how many groups it may hold.
    LiveMemory::Options memory;
    // Where the count of memories goes; not owned, may be null (default).
    Metrics* metrics = nullptr;
  };

  // Recovers every memory in `store`, which must outlive the registry. A
  // stored memory that cannot be read back is logged and left in the store
  // but not hosted: calls naming it get DATA_LOSS (Find, FindOrCreate, Add
  // without `overwrite`) until it is deleted (Remove) or overwritten (Add
  // with `overwrite`). Store errors come back as they are.
  static absl::StatusOr<std::unique_ptr<MemoryRegistry>> Open(
      const Options& options, Store* store);

  size_t size() const;

  // INVALID_ARGUMENT for an invalid name, NOT_FOUND when there is no such
  // memory.
  absl::StatusOr<std::shared_ptr<LiveMemory>> Find(
      absl::string_view name) const;

  // Hosts `memory` under `name`, persisted first. With `overwrite` an
  // existing memory of that name takes the new contents in place (its open
  // sessions continue on them); otherwise ALREADY_EXISTS.
  // RESOURCE_EXHAUSTED beyond Options::max_memories.
  absl::StatusOr<std::shared_ptr<LiveMemory>> Add(absl::string_view name,
                                                  Memory memory,
                                                  bool overwrite);

  // The memory called `name`, created from `config` when missing.
  absl::StatusOr<std::shared_ptr<LiveMemory>> FindOrCreate(
      absl::string_view name, const MemoryConfig& config);

  // Deletes the memory from the store and from the registry. Sessions on it
  // end at their next step. NOT_FOUND when there is no such memory.
  absl::Status Remove(absl::string_view name);

  // Up to `limit` memories whose names sort after `after`, in name order;
  // `*more` tells whether others follow.
  std::vector<std::shared_ptr<LiveMemory>> ListAfter(absl::string_view after,
                                                     size_t limit,
                                                     bool* more) const;

  // Every memory hosted right now.
  std::vector<std::shared_ptr<LiveMemory>> All() const;

 private:
  MemoryRegistry(const Options& options, Store* store);

  absl::StatusOr<std::shared_ptr<LiveMemory>> Insert(absl::string_view name,
                                                     Memory memory)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountMemories() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Find without taking the lock.
  absl::StatusOr<std::shared_ptr<LiveMemory>> FindLocked(
      absl::string_view name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NOT_FOUND for `name`, or the DATA_LOSS of an unreadable memory.
  absl::Status Missing(absl::string_view name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  Store* const store_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<LiveMemory>, std::less<>> memories_
      ABSL_GUARDED_BY(mu_);
  // Stored memories that could not be read back, with the reason.
  std::map<std::string, absl::Status, std::less<>> unreadable_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_MEMORY_REGISTRY_H_
