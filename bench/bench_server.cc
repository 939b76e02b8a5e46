#include "bench/bench_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lrmem/client.h"

extern char** environ;

namespace lrmem::bench {
namespace {

// A port that was free a moment ago. Another process may take it before
// the server binds it; Start then fails and says so.
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) return absl::InternalError("cannot find a free port");
  return ntohs(address.sin_port);
}

absl::StatusOr<std::string> TemporaryDirectory() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "lrmem-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  return pattern;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchServer>> BenchServer::Start(
    const BenchServerOptions& options) {
  std::unique_ptr<BenchServer> server(new BenchServer());
  absl::StatusOr<std::string> dir = TemporaryDirectory();
  if (!dir.ok()) return dir.status();
  server->data_dir_ = *dir;

  if (options.binary.empty()) {
    EmbeddedServer::Options embedded;
    embedded.data_dir = server->data_dir_ + "/data";
    absl::StatusOr<std::unique_ptr<EmbeddedServer>> started =
        EmbeddedServer::Start(embedded);
    if (!started.ok()) return started.status();
    server->embedded_ = std::move(*started);
    server->address_ = server->embedded_->address();
    return server;
  }

  if (absl::Status s = server->Spawn(options); !s.ok()) return s;
  Client client(server->address_);
  if (absl::Status s = client.WaitForConnection(); !s.ok()) return s;
  return server;
}

absl::Status BenchServer::Spawn(const BenchServerOptions& options) {
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  address_ = absl::StrCat("127.0.0.1:", *port);

  std::vector<std::string> args = {
      options.binary, absl::StrCat("--listen=", address_),
      absl::StrCat("--data_dir=", data_dir_, "/data")};
  if (options.max_message_bytes > 0) {
    args.push_back(
        absl::StrCat("--max_message_bytes=", options.max_message_bytes));
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int error = posix_spawn(&child_, options.binary.c_str(), nullptr,
                                nullptr, argv.data(), environ);
  if (error != 0) {
    child_ = -1;
    return absl::InternalError(absl::StrCat("cannot start ", options.binary,
                                            ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

BenchServer::~BenchServer() {
  if (embedded_ != nullptr) embedded_->Shutdown();
  embedded_.reset();
  if (child_ > 0) {
    kill(child_, SIGTERM);
    int status = 0;
    waitpid(child_, &status, 0);
  }
  std::error_code ignored;
  if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_, ignored);
}

std::string BenchServer::Describe() const {
  return child_ > 0 ? "lrmem-server subprocess" : "EmbeddedServer in process";
}

pid_t BenchServer::pid() const { return child_ > 0 ? child_ : getpid(); }

}  // namespace lrmem::bench
