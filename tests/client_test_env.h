// What the client tests share: a scratch directory and a real lrmem server
// on a localhost port, backed by RocksDB in that directory.

#ifndef LRMEM_TESTS_CLIENT_TEST_ENV_H_
#define LRMEM_TESTS_CLIENT_TEST_ENV_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "lrmem/client.h"
#include "lrmem/embedded_server.h"

namespace lrmem::testing {

// A fresh directory under the test's temp dir, removed on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lrmem-client-XXXXXX")
            .string();
    path_ = mkdtemp(pattern.data());
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A test with a server of its own and a client connected to it.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(0); }

  // Starts (again) on `port`; 0 picks one.
  void StartServer(int port) {
    EmbeddedServer::Options options;
    options.data_dir = dir_.path() + "/data";
    options.port = port;
    absl::StatusOr<std::unique_ptr<EmbeddedServer>> server =
        EmbeddedServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    if (client_ == nullptr) {
      client_ = std::make_unique<Client>(server_->address());
    }
  }

  void StopServer() { server_.reset(); }

  ScratchDir dir_;
  std::unique_ptr<EmbeddedServer> server_;
  std::unique_ptr<Client> client_;
};

}  // namespace lrmem::testing

#endif  // LRMEM_TESTS_CLIENT_TEST_ENV_H_
