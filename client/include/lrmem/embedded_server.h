// -----------------------------------------------------------------------------
// File: embedded_server.h
// -----------------------------------------------------------------------------
//
// `lrmem::EmbeddedServer` runs a complete lrmem server inside the calling
// process, on a private data directory, so that a training job needs no
// server set up beside it. It listens on 127.0.0.1 only, on a port of its
// own choosing; clients (also in other processes on the same machine)
// connect to address(). What it stores survives it: starting another one on
// the same directory finds every memory and snapshot again.
//
// Example:
//
//   lrmem::EmbeddedServer::Options options;
//   options.data_dir = "/tmp/my-job/lrmem";
//   absl::StatusOr<std::unique_ptr<lrmem::EmbeddedServer>> server =
//       lrmem::EmbeddedServer::Start(options);
//   if (!server.ok()) return server.status();
//   lrmem::Client client((*server)->address());
//
// Only one server may use a data directory at a time (RocksDB locks it).
//
// Thread-safety: all methods are thread-safe.

#ifndef LRMEM_EMBEDDED_SERVER_H_
#define LRMEM_EMBEDDED_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lrmem {

class LrmemServer;

class EmbeddedServer {
 public:
  struct Options {
    // Where the memories are stored; created, with its parents, if missing.
    // Required.
    std::string data_dir;
    // Port on 127.0.0.1; 0 picks a free one.
    int port = 0;
    // How long Shutdown lets open training streams end.
    absl::Duration shutdown_grace_period = absl::Seconds(1);
  };

  // Opens the store and starts serving. INVALID_ARGUMENT without a data
  // directory; the store's error when the directory cannot be opened (for
  // instance because another server holds it); UNAVAILABLE when the port
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<EmbeddedServer>> Start(
      const Options& options);

  // Shuts the server down.
  ~EmbeddedServer();

  EmbeddedServer(const EmbeddedServer&) = delete;
  EmbeddedServer& operator=(const EmbeddedServer&) = delete;

  // "127.0.0.1:<port>", for Client.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }

  // Ends open training streams with UNAVAILABLE, stops serving and flushes
  // the store. Later calls do nothing.
  void Shutdown();

 private:
  EmbeddedServer() = default;

  std::unique_ptr<LrmemServer> server_;
  std::string address_;
  std::string data_dir_;
  int port_ = 0;
};

}  // namespace lrmem

#endif  // LRMEM_EMBEDDED_SERVER_H_
