// MemoryAdmin: the admin side of the API (memories, snapshots, export and
// import) over the registry and the store, in absl::Status terms. The gRPC
// service only forwards to it.
//
// Snapshots are immutable records in the store: the memory's full state at
// the time, the memory it came from and when. Restoring one builds a new
// Memory from that state, under the same or another name.
//
// Thread-safety: all methods are thread-safe.

#ifndef LRMEM_SERVER_MEMORY_ADMIN_H_
#define LRMEM_SERVER_MEMORY_ADMIN_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lrmem/v1/service.pb.h"
#include "server/memory_registry.h"
#include "server/store.h"

namespace lrmem {

class MemoryAdmin {
 public:
  struct Options {
    // Page size of the list calls when the request leaves it 0.
    uint32_t default_page_size = 100;
    // Larger requested pages are cut to this.
    uint32_t max_page_size = 1000;
  };

  // `registry` and `store` must outlive the admin.
  MemoryAdmin(const Options& options, MemoryRegistry* registry, Store* store);

  // Errors: INVALID_ARGUMENT for invalid names or configs or files,
  // NOT_FOUND for a missing source, ALREADY_EXISTS for a taken target,
  // RESOURCE_EXHAUSTED beyond the memory limit, store errors as they come.
  absl::StatusOr<v1::MemoryInfo> CreateMemory(
      const v1::CreateMemoryRequest& request);
  absl::StatusOr<v1::MemoryInfo> GetMemory(const v1::GetMemoryRequest& request);
  absl::StatusOr<v1::ListMemoriesResponse> ListMemories(
      const v1::ListMemoriesRequest& request);
  absl::StatusOr<v1::DeleteMemoryResponse> DeleteMemory(
      const v1::DeleteMemoryRequest& request);
  absl::StatusOr<v1::MemoryInfo> CopyMemory(
      const v1::CopyMemoryRequest& request);

  absl::StatusOr<v1::SnapshotInfo> CreateSnapshot(
      const v1::CreateSnapshotRequest& request);
  absl::StatusOr<v1::ListSnapshotsResponse> ListSnapshots(
      const v1::ListSnapshotsRequest& request);
  absl::StatusOr<v1::DeleteSnapshotResponse> DeleteSnapshot(
      const v1::DeleteSnapshotRequest& request);
  absl::StatusOr<v1::MemoryInfo> RestoreSnapshot(
      const v1::RestoreSnapshotRequest& request);

  absl::StatusOr<v1::ExportResponse> Export(const v1::ExportRequest& request);
  absl::StatusOr<v1::MemoryInfo> Import(const v1::ImportRequest& request);

 private:
  uint32_t PageSize(uint32_t requested) const;
  // Hosts a state read from a snapshot or a file under `name`.
  absl::StatusOr<v1::MemoryInfo> Install(absl::string_view name,
                                         const v1::MemoryState& state,
                                         bool overwrite, bool reset_optimizer);

  const Options options_;
  MemoryRegistry* const registry_;
  Store* const store_;
  // Makes "is this snapshot name free? then write it" one step.
  absl::Mutex snapshots_mu_;
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_MEMORY_ADMIN_H_
