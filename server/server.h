// LrmemServer: a running lrmem server: the store, the registry of memories
// recovered from it, and the gRPC server with the lrmem service, health
// checking and reflection. The binary lrmem-server wraps it with flags and
// signal handling; tests run it in process.
//
// Lifecycle: Start opens the store, recovers every memory, starts serving
// and reports SERVING on grpc.health.v1. Shutdown reports NOT_SERVING,
// stops accepting calls, ends open training streams with UNAVAILABLE
// within the grace period, and flushes the store.
//
// Thread-safety: Shutdown may be called from any thread, more than once.

#ifndef LRMEM_SERVER_SERVER_H_
#define LRMEM_SERVER_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/memory_admin.h"
#include "server/memory_registry.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/store.h"
#include "server/training_session.h"

namespace lrmem {

class LrmemServer {
 public:
  static TrainingSession::Options DefaultSessionOptions() {
    TrainingSession::Options options;
    options.max_values_per_message = 0;
    return options;
  }

  struct Options {
    // host:port to listen on; port 0 picks a free port (see port()).
    std::string listen = "127.0.0.1:50051";
    // Where RocksDB keeps the memories and snapshots.
    std::string data_dir = "./lrmem-data";
    // fsync every write: acknowledged steps then survive a power cut, not
    // only a killed process.
    bool sync_writes = false;
    // Largest request gRPC accepts; larger ones fail with
    // RESOURCE_EXHAUSTED.
    int max_message_bytes = 64 << 20;
    // How long Shutdown lets streams end before cancelling them.
    absl::Duration shutdown_grace_period = absl::Seconds(5);
    // host:port of the Prometheus endpoint (/metrics); empty (default)
    // serves none. Port 0 picks a free one (see metrics_port()).
    std::string metrics_listen;
    MemoryRegistry::Options registry;
    // session.max_values_per_message 0 (the default here) takes as many
    // values as fit in max_message_bytes together with their answer; a
    // larger number than fits makes Start fail with INVALID_ARGUMENT.
    TrainingSession::Options session = DefaultSessionOptions();
    MemoryAdmin::Options admin;
  };

  // Opens the store, recovers the memories and starts serving. Store and
  // binding errors come back as they are.
  static absl::StatusOr<std::unique_ptr<LrmemServer>> Start(
      const Options& options);

  // Shuts down if still running.
  ~LrmemServer();

  LrmemServer(const LrmemServer&) = delete;
  LrmemServer& operator=(const LrmemServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }
  // The port of the metrics endpoint, 0 when there is none.
  int metrics_port() const { return metrics_->port(); }

  // See the file comment. Returns when everything is stopped and flushed.
  void Shutdown();

 private:
  explicit LrmemServer(const Options& options) : options_(options) {}
  absl::Status StartServing();
  // Periodic upkeep until Shutdown: drops idle learners' RAM state.
  void Maintain();

  const Options options_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<MemoryRegistry> registry_;
  std::unique_ptr<MemoryAdmin> admin_;
  std::unique_ptr<LearningRateMemoryService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread maintenance_;
  absl::Notification stop_maintenance_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_SERVER_H_
