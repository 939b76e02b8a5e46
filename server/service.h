// LearningRateMemoryService: the lrmem.v1 gRPC service, on gRPC's callback
// API. Admin calls forward to MemoryAdmin; every Train stream gets a
// TrainingSession, driven by a reactor that reads one request, answers it,
// and only then reads the next, so no stream holds a thread while idle.
//
// Thread-safety: gRPC calls the service from its own threads; StopStreams
// may be called from any thread.

#ifndef LRMEM_SERVER_SERVICE_H_
#define LRMEM_SERVER_SERVICE_H_

#include <cstddef>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "lrmem/v1/service.grpc.pb.h"
#include "server/memory_admin.h"
#include "server/memory_registry.h"
#include "server/training_session.h"

namespace lrmem {

class TrainReactor;

class LearningRateMemoryService final
    : public v1::LearningRateMemory::CallbackService {
 public:
  // `admin` and `registry` must outlive the service.
  LearningRateMemoryService(const TrainingSession::Options& session_options,
                            MemoryAdmin* admin, MemoryRegistry* registry);

  // Ends every open Train stream with UNAVAILABLE as soon as its current
  // step is answered, and refuses new ones. Returns at once.
  void StopStreams();

  // Train streams currently open.
  size_t open_streams() const;

  grpc::ServerUnaryReactor* CreateMemory(grpc::CallbackServerContext* context,
                                         const v1::CreateMemoryRequest* request,
                                         v1::MemoryInfo* response) override;
  grpc::ServerUnaryReactor* GetMemory(grpc::CallbackServerContext* context,
                                      const v1::GetMemoryRequest* request,
                                      v1::MemoryInfo* response) override;
  grpc::ServerUnaryReactor* ListMemories(
      grpc::CallbackServerContext* context,
      const v1::ListMemoriesRequest* request,
      v1::ListMemoriesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteMemory(
      grpc::CallbackServerContext* context,
      const v1::DeleteMemoryRequest* request,
      v1::DeleteMemoryResponse* response) override;
  grpc::ServerUnaryReactor* CopyMemory(grpc::CallbackServerContext* context,
                                       const v1::CopyMemoryRequest* request,
                                       v1::MemoryInfo* response) override;
  grpc::ServerUnaryReactor* CreateSnapshot(
      grpc::CallbackServerContext* context,
      const v1::CreateSnapshotRequest* request,
      v1::SnapshotInfo* response) override;
  grpc::ServerUnaryReactor* ListSnapshots(
      grpc::CallbackServerContext* context,
      const v1::ListSnapshotsRequest* request,
      v1::ListSnapshotsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSnapshot(
      grpc::CallbackServerContext* context,
      const v1::DeleteSnapshotRequest* request,
      v1::DeleteSnapshotResponse* response) override;
  grpc::ServerUnaryReactor* RestoreSnapshot(
      grpc::CallbackServerContext* context,
      const v1::RestoreSnapshotRequest* request,
      v1::MemoryInfo* response) override;
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const v1::ExportRequest* request,
                                   v1::ExportResponse* response) override;
  grpc::ServerUnaryReactor* Import(grpc::CallbackServerContext* context,
                                   const v1::ImportRequest* request,
                                   v1::MemoryInfo* response) override;
  grpc::ServerBidiReactor<v1::TrainRequest, v1::TrainResponse>* Train(
      grpc::CallbackServerContext* context) override;

 private:
  friend class TrainReactor;

  // False once StopStreams was called.
  bool Register(TrainReactor* reactor);
  void Unregister(TrainReactor* reactor);

  const TrainingSession::Options session_options_;
  MemoryAdmin* const admin_;
  MemoryRegistry* const registry_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<TrainReactor*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_SERVICE_H_
