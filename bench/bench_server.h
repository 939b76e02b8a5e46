// The lrmem server the networked scenarios talk to, on 127.0.0.1 with a
// free port and a fresh temporary data directory that is removed again.
//
// Either an lrmem-server process started from a given binary (what a
// deployment runs: a separate process with its own threads), or, without a
// binary, an EmbeddedServer in the benchmark's own process. Both are a real
// gRPC hop over loopback TCP.

#ifndef LRMEM_BENCH_BENCH_SERVER_H_
#define LRMEM_BENCH_BENCH_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lrmem/embedded_server.h"

namespace lrmem::bench {

struct BenchServerOptions {
  // Path of lrmem-server; empty: an EmbeddedServer in this process.
  std::string binary;
  // lrmem-server's --max_message_bytes; 0 keeps its default. Subprocess
  // only.
  int max_message_bytes = 0;
};

class BenchServer {
 public:
  // Starts the server and waits until it accepts connections. INTERNAL or
  // UNAVAILABLE, with the reason, when it cannot start.
  static absl::StatusOr<std::unique_ptr<BenchServer>> Start(
      const BenchServerOptions& options);

  // Stops the server (SIGTERM for a subprocess) and removes its data.
  ~BenchServer();

  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  // "127.0.0.1:<port>".
  const std::string& address() const { return address_; }
  // What runs: "lrmem-server subprocess" or "EmbeddedServer in process".
  std::string Describe() const;
  // Process id of the server (this process when embedded).
  pid_t pid() const;

 private:
  BenchServer() = default;
  absl::Status Spawn(const BenchServerOptions& options);

  std::string data_dir_;
  std::string address_;
  std::unique_ptr<EmbeddedServer> embedded_;
  pid_t child_ = -1;
};

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_BENCH_SERVER_H_
