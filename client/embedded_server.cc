#include "lrmem/embedded_server.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/server.h"

namespace lrmem {

absl::StatusOr<std::unique_ptr<EmbeddedServer>> EmbeddedServer::Start(
    const Options& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "the embedded lrmem server needs a data directory");
  }
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the data directory '", options.data_dir,
                     "': ", error.message()));
  }

  LrmemServer::Options server_options;
  server_options.listen = absl::StrCat("127.0.0.1:", options.port);
  server_options.data_dir = options.data_dir;
  server_options.shutdown_grace_period = options.shutdown_grace_period;
  absl::StatusOr<std::unique_ptr<LrmemServer>> server =
      LrmemServer::Start(server_options);
  if (!server.ok()) return server.status();

  std::unique_ptr<EmbeddedServer> embedded(new EmbeddedServer());
  embedded->server_ = *std::move(server);
  embedded->port_ = embedded->server_->port();
  embedded->address_ = absl::StrCat("127.0.0.1:", embedded->port_);
  embedded->data_dir_ = options.data_dir;
  return embedded;
}

EmbeddedServer::~EmbeddedServer() { Shutdown(); }

void EmbeddedServer::Shutdown() { server_->Shutdown(); }

}  // namespace lrmem
