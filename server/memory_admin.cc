#include "server/memory_admin.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config_proto.h"
#include "common/memory.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "server/export_file.h"
#include "server/status_macros.h"

namespace lrmem {
namespace {

v1::SnapshotInfo SnapshotInfoOf(const std::string& name,
                                const v1::ExportFile& record) {
  v1::SnapshotInfo info;
  info.set_name(name);
  info.set_source_memory(record.source_name());
  info.set_source_steps(record.state().steps());
  *info.mutable_created_at() = record.exported_at();
  info.set_groups(static_cast<uint32_t>(record.state().groups_size()));
  return info;
}

}  // namespace

MemoryAdmin::MemoryAdmin(const Options& options, MemoryRegistry* registry,
                         Store* store)
    : options_(options), registry_(registry), store_(store) {}

uint32_t MemoryAdmin::PageSize(uint32_t requested) const {
  if (requested == 0) return options_.default_page_size;
  return std::min(requested, options_.max_page_size);
}

absl::StatusOr<v1::MemoryInfo> MemoryAdmin::CreateMemory(
    const v1::CreateMemoryRequest& request) {
  LRMEM_RETURN_IF_ERROR(ValidateName("memory", request.name()));
  absl::StatusOr<MemoryConfig> config = ConfigFromProto(request.config());
  if (!config.ok()) return config.status();
  absl::StatusOr<Memory> memory = Memory::Create(*config);
  if (!memory.ok()) return memory.status();
  const absl::Time now = absl::Now();
  memory->set_created_at(now);
  memory->set_updated_at(now);
  absl::StatusOr<std::shared_ptr<LiveMemory>> live =
      registry_->Add(request.name(), *std::move(memory), /*overwrite=*/false);
  if (!live.ok()) return live.status();
  return (*live)->Info(/*include_values=*/false);
}

absl::StatusOr<v1::MemoryInfo> MemoryAdmin::GetMemory(
    const v1::GetMemoryRequest& request) {
  absl::StatusOr<std::shared_ptr<LiveMemory>> live =
      registry_->Find(request.name());
  if (!live.ok()) return live.status();
  return (*live)->Info(request.include_values());
}

absl::StatusOr<v1::ListMemoriesResponse> MemoryAdmin::ListMemories(
    const v1::ListMemoriesRequest& request) {
  bool more = false;
  std::vector<std::shared_ptr<LiveMemory>> page = registry_->ListAfter(
      request.page_token(), PageSize(request.page_size()), &more);
  v1::ListMemoriesResponse response;
  for (const std::shared_ptr<LiveMemory>& live : page) {
    *response.add_memories() = live->Info(/*include_values=*/false);
  }
  if (more && !page.empty()) response.set_next_page_token(page.back()->name());
  return response;
}

absl::StatusOr<v1::DeleteMemoryResponse> MemoryAdmin::DeleteMemory(
    const v1::DeleteMemoryRequest& request) {
  LRMEM_RETURN_IF_ERROR(registry_->Remove(request.name()));
  return v1::DeleteMemoryResponse();
}

absl::StatusOr<v1::MemoryInfo> MemoryAdmin::CopyMemory(
    const v1::CopyMemoryRequest& request) {
  LRMEM_RETURN_IF_ERROR(ValidateName("memory", request.destination()));
  absl::StatusOr<std::shared_ptr<LiveMemory>> source =
      registry_->Find(request.source());
  if (!source.ok()) return source.status();
  return Install(request.destination(), (*source)->State(),
                 /*overwrite=*/false, /*reset_optimizer=*/false);
}

absl::StatusOr<v1::MemoryInfo> MemoryAdmin::Install(
    absl::string_view name, const v1::MemoryState& state, bool overwrite,
    bool reset_optimizer) {
  absl::StatusOr<Memory> memory = Memory::FromProto(state);
  if (!memory.ok()) return memory.status();
  if (reset_optimizer) memory->ResetOptimizer();
  const absl::Time now = absl::Now();
  memory->set_created_at(now);
  memory->set_updated_at(now);
  absl::StatusOr<std::shared_ptr<LiveMemory>> live =
      registry_->Add(name, *std::move(memory), overwrite);
  if (!live.ok()) return live.status();
  return (*live)->Info(/*include_values=*/false);
}

absl::StatusOr<v1::SnapshotInfo> MemoryAdmin::CreateSnapshot(
    const v1::CreateSnapshotRequest& request) {
  LRMEM_RETURN_IF_ERROR(ValidateName("snapshot", request.snapshot()));
  absl::StatusOr<std::shared_ptr<LiveMemory>> source =
      registry_->Find(request.memory());
  if (!source.ok()) return source.status();

  v1::ExportFile record;
  if (!record.ParseFromString(EncodeExportFile(
          request.memory(), (*source)->State(), absl::Now()))) {
    return absl::InternalError("snapshot record does not parse back");
  }
  absl::MutexLock lock(&snapshots_mu_);
  absl::StatusOr<v1::ExportFile> existing =
      store_->GetSnapshot(request.snapshot());
  if (existing.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("snapshot '", request.snapshot(), "' already exists"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  LRMEM_RETURN_IF_ERROR(store_->PutSnapshot(request.snapshot(), record));
  LOG(INFO) << "snapshot '" << request.snapshot() << "' taken of memory '"
            << request.memory() << "' at step " << record.state().steps();
  return SnapshotInfoOf(request.snapshot(), record);
}

absl::StatusOr<v1::ListSnapshotsResponse> MemoryAdmin::ListSnapshots(
    const v1::ListSnapshotsRequest& request) {
  if (!request.memory().empty()) {
    LRMEM_RETURN_IF_ERROR(ValidateName("memory", request.memory()));
  }
  const uint32_t page_size = PageSize(request.page_size());
  v1::ListSnapshotsResponse response;
  bool more = false;
  LRMEM_RETURN_IF_ERROR(store_->ScanSnapshots(
      request.page_token(),
      [&](const std::string& name, const v1::ExportFile& record) {
        if (!request.memory().empty() &&
            record.source_name() != request.memory()) {
          return true;
        }
        if (static_cast<uint32_t>(response.snapshots_size()) == page_size) {
          more = true;
          return false;
        }
        *response.add_snapshots() = SnapshotInfoOf(name, record);
        return true;
      }));
  if (more) {
    response.set_next_page_token(
        response.snapshots(response.snapshots_size() - 1).name());
  }
  return response;
}

absl::StatusOr<v1::DeleteSnapshotResponse> MemoryAdmin::DeleteSnapshot(
    const v1::DeleteSnapshotRequest& request) {
  LRMEM_RETURN_IF_ERROR(ValidateName("snapshot", request.snapshot()));
  absl::MutexLock lock(&snapshots_mu_);
  absl::StatusOr<v1::ExportFile> existing =
      store_->GetSnapshot(request.snapshot());
  if (!existing.ok()) return existing.status();
  LRMEM_RETURN_IF_ERROR(store_->DeleteSnapshot(request.snapshot()));
  LOG(INFO) << "snapshot '" << request.snapshot() << "' deleted";
  return v1::DeleteSnapshotResponse();
}

absl::StatusOr<v1::MemoryInfo> MemoryAdmin::RestoreSnapshot(
    const v1::RestoreSnapshotRequest& request) {
  LRMEM_RETURN_IF_ERROR(ValidateName("snapshot", request.snapshot()));
  LRMEM_RETURN_IF_ERROR(ValidateName("memory", request.memory()));
  absl::StatusOr<v1::ExportFile> record =
      store_->GetSnapshot(request.snapshot());
  if (!record.ok()) return record.status();
  absl::StatusOr<v1::MemoryInfo> info =
      Install(request.memory(), record->state(), request.overwrite(),
              request.reset_optimizer());
  if (info.ok()) {
    LOG(INFO) << "snapshot '" << request.snapshot() << "' restored into '"
              << request.memory() << "'";
  }
  return info;
}

absl::StatusOr<v1::ExportResponse> MemoryAdmin::Export(
    const v1::ExportRequest& request) {
  v1::ExportResponse response;
  switch (request.source_case()) {
    case v1::ExportRequest::kMemory: {
      absl::StatusOr<std::shared_ptr<LiveMemory>> live =
          registry_->Find(request.memory());
      if (!live.ok()) return live.status();
      response.set_file(
          EncodeExportFile(request.memory(), (*live)->State(), absl::Now()));
      return response;
    }
    case v1::ExportRequest::kSnapshot: {
      LRMEM_RETURN_IF_ERROR(ValidateName("snapshot", request.snapshot()));
      absl::StatusOr<v1::ExportFile> record =
          store_->GetSnapshot(request.snapshot());
      if (!record.ok()) return record.status();
      response.set_file(EncodeExportFile(record->source_name(), record->state(),
                                         absl::Now()));
      return response;
    }
    default:
      return absl::InvalidArgumentError(
          "export needs a memory or a snapshot name");
  }
}

absl::StatusOr<v1::MemoryInfo> MemoryAdmin::Import(
    const v1::ImportRequest& request) {
  LRMEM_RETURN_IF_ERROR(ValidateName("memory", request.memory()));
  absl::StatusOr<v1::ExportFile> file = DecodeExportFile(request.file());
  if (!file.ok()) return file.status();
  absl::StatusOr<v1::MemoryInfo> info =
      Install(request.memory(), file->state(), request.overwrite(),
              /*reset_optimizer=*/false);
  if (info.ok()) {
    LOG(INFO) << "memory '" << request.memory() << "' imported from an "
              << "export of '" << file->source_name() << "'";
  }
  return info;
}

}  // namespace lrmem
