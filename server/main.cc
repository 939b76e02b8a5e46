// lrmem-server: hosts named learning-rate memories over gRPC, persisted in
// an embedded RocksDB under --data_dir.
//
// SIGTERM or SIGINT shut it down gracefully: health goes NOT_SERVING, open
// training streams end with UNAVAILABLE, the store is flushed, exit code 0.

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <thread>

#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "server/server.h"

DEFINE_string(listen, "127.0.0.1:50051",
              "host:port to serve on (port 0 picks a free one)");
DEFINE_string(data_dir, "./lrmem-data",
              "directory of the RocksDB database holding the memories");
DEFINE_bool(sync_writes, false,
            "fsync the write-ahead log before acknowledging each step; "
            "without it acknowledged steps survive a killed process but not "
            "a power cut");
DEFINE_int32(max_message_bytes, 64 << 20,
             "largest request accepted; larger ones get RESOURCE_EXHAUSTED");
DEFINE_uint64(max_memories, 10000, "most memories hosted at once");
DEFINE_uint64(max_groups_per_session, 1024,
              "most parameter groups one training session may declare");
DEFINE_uint64(max_groups_per_memory, 1024,
              "most parameter groups one memory may hold (each is rewritten "
              "with every step of the memory)");
DEFINE_uint64(max_values_per_message, 0,
              "most floats in one training step, all groups together; 0: as "
              "many as fit in --max_message_bytes with room for the answer");
DEFINE_int32(learner_idle_seconds, 600,
             "how long a memory keeps a disconnected learner's previous "
             "signals and last answer (O(parameters) of RAM each) for it to "
             "resume from");
DEFINE_int32(shutdown_grace_period_ms, 5000,
             "how long open streams get to end on shutdown");
DEFINE_string(metrics_listen, "",
              "host:port of a Prometheus endpoint (/metrics); none if empty");

namespace {

// Blocks SIGTERM and SIGINT in every thread started after this call, so
// that only the waiting thread receives them.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

lrmem::LrmemServer::Options OptionsFromFlags() {
  lrmem::LrmemServer::Options options;
  options.listen = FLAGS_listen;
  options.data_dir = FLAGS_data_dir;
  options.sync_writes = FLAGS_sync_writes;
  options.metrics_listen = FLAGS_metrics_listen;
  options.max_message_bytes = FLAGS_max_message_bytes;
  options.shutdown_grace_period =
      absl::Milliseconds(FLAGS_shutdown_grace_period_ms);
  options.registry.max_memories = FLAGS_max_memories;
  options.registry.memory.learner_idle_timeout =
      absl::Seconds(FLAGS_learner_idle_seconds);
  options.registry.memory.max_groups = FLAGS_max_groups_per_memory;
  options.session.max_groups_per_session = FLAGS_max_groups_per_session;
  options.session.max_values_per_message = FLAGS_max_values_per_message;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("lrmem-server [--listen=HOST:PORT] [--data_dir=DIR]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;

  const sigset_t signals = BlockShutdownSignals();

  absl::StatusOr<std::unique_ptr<lrmem::LrmemServer>> server =
      lrmem::LrmemServer::Start(OptionsFromFlags());
  if (!server.ok()) {
    LOG(ERROR) << "cannot start: " << server.status();
    return EXIT_FAILURE;
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LOG(INFO) << "received " << strsignal(signal_number);
  (*server)->Shutdown();
  server->reset();
  return EXIT_SUCCESS;
}
