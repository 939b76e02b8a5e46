#include "server/service.h"

#include <atomic>
#include <utility>
#include <vector>

#include "glog/logging.h"
#include "server/grpc_status.h"

namespace lrmem {
namespace {

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the server is shutting down; reconnect and resend "
                      "the last unanswered step");
}

grpc::Status NeverOpened() {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "the stream ended without an `open` message, or its "
                      "first message does not parse (names must be valid "
                      "UTF-8)");
}

// Answers a unary call from the admin's result.
template <typename Response>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<Response> result,
                                Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace

// One Train stream. Reads a request, answers it, then reads the next.
//
// Lifetime: gRPC holds one reference until OnDone; StopStreams holds one
// more while it works on the reactor, so the reactor can never be deleted
// under it.
class TrainReactor final
    : public grpc::ServerBidiReactor<v1::TrainRequest, v1::TrainResponse> {
 public:
  explicit TrainReactor(LearningRateMemoryService* service)
      : service_(service),
        session_(service->session_options_, service->registry_) {
    if (!service_->Register(this)) {
      FinishOnce(ShuttingDown());
      return;
    }
    StartRead(&request_);
  }

  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  // Ends the stream with UNAVAILABLE: now when it waits for the learner,
  // otherwise right after the step in progress is answered.
  void Stop() {
    bool idle = false;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      idle = !busy_;
    }
    if (idle) FinishOnce(ShuttingDown());
  }

  void OnReadDone(bool ok) override {
    // The learner closed its side, or vanished, or sent a message that
    // does not parse (gRPC reports all three alike).
    if (!ok) {
      FinishOnce(session_.is_open() ? grpc::Status::OK : NeverOpened());
      return;
    }
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      busy_ = !stopping;
    }
    if (stopping) {
      FinishOnce(ShuttingDown());
      return;
    }
    absl::StatusOr<v1::TrainResponse> response = session_.Handle(request_);
    if (!response.ok()) {
      VLOG(1) << "Train stream ended: " << response.status();
      FinishOnce(ToGrpcStatus(response.status()));
      return;
    }
    response_ = *std::move(response);
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      stopping = stopping_;
    }
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
    } else if (stopping) {
      FinishOnce(ShuttingDown());
    } else {
      StartRead(&request_);
    }
  }

  void OnDone() override {
    service_->Unregister(this);
    Unref();
  }

 private:
  ~TrainReactor() override = default;

  void FinishOnce(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(std::move(status));
  }

  LearningRateMemoryService* const service_;
  TrainingSession session_;
  v1::TrainRequest request_;
  v1::TrainResponse response_;
  std::atomic<int> refs_{1};

  absl::Mutex mu_;
  // A request is being handled or its answer written.
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

LearningRateMemoryService::LearningRateMemoryService(
    const TrainingSession::Options& session_options, MemoryAdmin* admin,
    MemoryRegistry* registry)
    : session_options_(session_options), admin_(admin), registry_(registry) {}

bool LearningRateMemoryService::Register(TrainReactor* reactor) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  streams_.insert(reactor);
  return true;
}

void LearningRateMemoryService::Unregister(TrainReactor* reactor) {
  absl::MutexLock lock(&mu_);
  streams_.erase(reactor);
}

size_t LearningRateMemoryService::open_streams() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void LearningRateMemoryService::StopStreams() {
  std::vector<TrainReactor*> streams;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (TrainReactor* reactor : streams_) {
      reactor->Ref();
      streams.push_back(reactor);
    }
  }
  LOG(INFO) << "ending " << streams.size() << " open training streams";
  // Outside the lock: finishing a stream may run its OnDone right here.
  for (TrainReactor* reactor : streams) {
    reactor->Stop();
    reactor->Unref();
  }
}

grpc::ServerBidiReactor<v1::TrainRequest, v1::TrainResponse>*
LearningRateMemoryService::Train(grpc::CallbackServerContext* context) {
  return new TrainReactor(this);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::CreateMemory(
    grpc::CallbackServerContext* context,
    const v1::CreateMemoryRequest* request, v1::MemoryInfo* response) {
  return Reply(context, admin_->CreateMemory(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::GetMemory(
    grpc::CallbackServerContext* context, const v1::GetMemoryRequest* request,
    v1::MemoryInfo* response) {
  return Reply(context, admin_->GetMemory(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::ListMemories(
    grpc::CallbackServerContext* context,
    const v1::ListMemoriesRequest* request,
    v1::ListMemoriesResponse* response) {
  return Reply(context, admin_->ListMemories(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::DeleteMemory(
    grpc::CallbackServerContext* context,
    const v1::DeleteMemoryRequest* request,
    v1::DeleteMemoryResponse* response) {
  return Reply(context, admin_->DeleteMemory(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::CopyMemory(
    grpc::CallbackServerContext* context, const v1::CopyMemoryRequest* request,
    v1::MemoryInfo* response) {
  return Reply(context, admin_->CopyMemory(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::CreateSnapshot(
    grpc::CallbackServerContext* context,
    const v1::CreateSnapshotRequest* request, v1::SnapshotInfo* response) {
  return Reply(context, admin_->CreateSnapshot(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::ListSnapshots(
    grpc::CallbackServerContext* context,
    const v1::ListSnapshotsRequest* request,
    v1::ListSnapshotsResponse* response) {
  return Reply(context, admin_->ListSnapshots(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::DeleteSnapshot(
    grpc::CallbackServerContext* context,
    const v1::DeleteSnapshotRequest* request,
    v1::DeleteSnapshotResponse* response) {
  return Reply(context, admin_->DeleteSnapshot(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::RestoreSnapshot(
    grpc::CallbackServerContext* context,
    const v1::RestoreSnapshotRequest* request, v1::MemoryInfo* response) {
  return Reply(context, admin_->RestoreSnapshot(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::Export(
    grpc::CallbackServerContext* context, const v1::ExportRequest* request,
    v1::ExportResponse* response) {
  return Reply(context, admin_->Export(*request), response);
}

grpc::ServerUnaryReactor* LearningRateMemoryService::Import(
    grpc::CallbackServerContext* context, const v1::ImportRequest* request,
    v1::MemoryInfo* response) {
  return Reply(context, admin_->Import(*request), response);
}

}  // namespace lrmem
