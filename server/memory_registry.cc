#include "server/memory_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace lrmem {

absl::StatusOr<std::unique_ptr<MemoryRegistry>> MemoryRegistry::Open(
    const Options& options, Store* store) {
  std::unique_ptr<MemoryRegistry> registry(new MemoryRegistry(options, store));
  absl::Status status = store->ForEachMemory(
      [&](const std::string& name, const v1::MemoryState& state) {
        absl::StatusOr<Memory> memory = Memory::FromProto(state);
        if (!memory.ok()) {
          return absl::DataLossError(absl::StrCat(
              "memory '", name,
              "' cannot be recovered: ", memory.status().message()));
        }
        absl::MutexLock lock(&registry->mu_);
        registry->memories_.emplace(
            name, std::make_shared<LiveMemory>(name, *std::move(memory), store,
                                               options.learner_idle_timeout));
        return absl::OkStatus();
      });
  if (!status.ok()) {
    LOG(ERROR) << "recovering memories: " << status;
    return status;
  }
  {
    absl::MutexLock lock(&registry->mu_);
    registry->CountMemories();
  }
  LOG(INFO) << "recovered " << registry->size() << " memories";
  return registry;
}

MemoryRegistry::MemoryRegistry(const Options& options, Store* store)
    : options_(options), store_(store) {}

void MemoryRegistry::CountMemories() const {
  if (options_.metrics != nullptr) {
    options_.metrics->SetMemories(memories_.size());
  }
}

size_t MemoryRegistry::size() const {
  absl::MutexLock lock(&mu_);
  return memories_.size();
}

absl::StatusOr<std::shared_ptr<LiveMemory>> MemoryRegistry::Find(
    absl::string_view name) const {
  absl::Status status = ValidateName("memory", name);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = memories_.find(name);
  if (it == memories_.end()) {
    return absl::NotFoundError(absl::StrCat("memory '", name, "' not found"));
  }
  return it->second;
}

absl::StatusOr<std::shared_ptr<LiveMemory>> MemoryRegistry::Insert(
    absl::string_view name, Memory memory) {
  if (memories_.size() >= options_.max_memories) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create memory '", name, "': the server hosts ",
                     memories_.size(), " memories, the limit is ",
                     options_.max_memories, " (--max_memories)"));
  }
  absl::Status status = store_->PutMemory(name, memory.ToProto());
  if (!status.ok()) return status;
  auto live =
      std::make_shared<LiveMemory>(std::string(name), std::move(memory), store_,
                                   options_.learner_idle_timeout);
  memories_.emplace(std::string(name), live);
  CountMemories();
  LOG(INFO) << "memory '" << name << "' created";
  return live;
}

absl::StatusOr<std::shared_ptr<LiveMemory>> MemoryRegistry::Add(
    absl::string_view name, Memory memory, bool overwrite) {
  absl::Status status = ValidateName("memory", name);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = memories_.find(name);
  if (it == memories_.end()) return Insert(name, std::move(memory));
  if (!overwrite) {
    return absl::AlreadyExistsError(
        absl::StrCat("memory '", name, "' already exists"));
  }
  status = it->second->Replace(std::move(memory));
  if (!status.ok()) return status;
  LOG(INFO) << "memory '" << name << "' replaced";
  return it->second;
}

absl::StatusOr<std::shared_ptr<LiveMemory>> MemoryRegistry::FindOrCreate(
    absl::string_view name, const MemoryConfig& config) {
  absl::Status status = ValidateName("memory", name);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = memories_.find(name);
  if (it != memories_.end()) return it->second;
  absl::StatusOr<Memory> memory = Memory::Create(config);
  if (!memory.ok()) return memory.status();
  const absl::Time now = absl::Now();
  memory->set_created_at(now);
  memory->set_updated_at(now);
  return Insert(name, *std::move(memory));
}

absl::Status MemoryRegistry::Remove(absl::string_view name) {
  absl::Status status = ValidateName("memory", name);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = memories_.find(name);
  if (it == memories_.end()) {
    return absl::NotFoundError(absl::StrCat("memory '", name, "' not found"));
  }
  status = it->second->MarkDeleted();
  if (!status.ok()) return status;
  memories_.erase(it);
  CountMemories();
  if (options_.metrics != nullptr) options_.metrics->MemoryDeleted(name);
  LOG(INFO) << "memory '" << name << "' deleted";
  return absl::OkStatus();
}

std::vector<std::shared_ptr<LiveMemory>> MemoryRegistry::ListAfter(
    absl::string_view after, size_t limit, bool* more) const {
  absl::MutexLock lock(&mu_);
  auto it = after.empty() ? memories_.begin() : memories_.upper_bound(after);
  std::vector<std::shared_ptr<LiveMemory>> page;
  for (; it != memories_.end() && page.size() < limit; ++it) {
    page.push_back(it->second);
  }
  *more = it != memories_.end();
  return page;
}

}  // namespace lrmem
