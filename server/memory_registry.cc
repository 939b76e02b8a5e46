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
        absl::MutexLock lock(&registry->mu_);
        if (!memory.ok()) {
          // One unreadable memory must not take the others down with it.
          absl::Status lost = absl::DataLossError(absl::StrCat(
              "memory '", name,
              "' cannot be recovered: ", memory.status().message(),
              "; delete it, or overwrite it by restore or import"));
          LOG(ERROR) << lost;
          registry->unreadable_.emplace(name, std::move(lost));
          return absl::OkStatus();
        }
        registry->memories_.emplace(
            name, std::make_shared<LiveMemory>(name, *std::move(memory), store,
                                               options.memory));
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
  absl::MutexLock lock(&registry->mu_);
  if (!registry->unreadable_.empty()) {
    LOG(ERROR) << registry->unreadable_.size()
               << " stored memories could not be read; calls naming them get "
                  "DATA_LOSS until they are deleted or overwritten";
  }
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
  return FindLocked(name);
}

absl::StatusOr<std::shared_ptr<LiveMemory>> MemoryRegistry::FindLocked(
    absl::string_view name) const {
  auto it = memories_.find(name);
  if (it == memories_.end()) return Missing(name);
  return it->second;
}

absl::Status MemoryRegistry::Missing(absl::string_view name) const {
  auto lost = unreadable_.find(name);
  if (lost != unreadable_.end()) return lost->second;
  return absl::NotFoundError(absl::StrCat("memory '", name, "' not found"));
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
  unreadable_.erase(std::string(name));
  auto live = std::make_shared<LiveMemory>(std::string(name), std::move(memory),
                                           store_, options_.memory);
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
  if (it == memories_.end()) {
    if (!overwrite && unreadable_.count(name) != 0) return Missing(name);
    return Insert(name, std::move(memory));
  }
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
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::shared_ptr<LiveMemory>> found = FindLocked(name);
    if (!absl::IsNotFound(found.status())) return found;
  }
  // Laid out without the registry's lock, which every lookup takes.
  absl::StatusOr<Memory> memory = Memory::Create(config);
  if (!memory.ok()) return memory.status();
  const absl::Time now = absl::Now();
  memory->set_created_at(now);
  memory->set_updated_at(now);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<LiveMemory>> found = FindLocked(name);
  if (!absl::IsNotFound(found.status())) return found;
  return Insert(name, *std::move(memory));
}

absl::Status MemoryRegistry::Remove(absl::string_view name) {
  absl::Status status = ValidateName("memory", name);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = memories_.find(name);
  if (it == memories_.end()) {
    if (unreadable_.count(name) == 0) return Missing(name);
    status = store_->DeleteMemory(name);
    if (!status.ok()) return status;
    unreadable_.erase(std::string(name));
    LOG(INFO) << "unreadable memory '" << name << "' deleted";
    return absl::OkStatus();
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

std::vector<std::shared_ptr<LiveMemory>> MemoryRegistry::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<LiveMemory>> all;
  all.reserve(memories_.size());
  for (const auto& [name, memory] : memories_) all.push_back(memory);
  return all;
}

}  // namespace lrmem
