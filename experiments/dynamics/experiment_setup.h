// What the dynamics and BEGAN jobs share besides their reports: the
// --memory_* flags that configure a fresh learning-rate memory (the same
// names as the main MNIST job's), the server their memories live on, and
// running independent (variant, seed) trainings on a few threads.
//
// No torch here.

#ifndef LRMEM_EXPERIMENTS_DYNAMICS_EXPERIMENT_SETUP_H_
#define LRMEM_EXPERIMENTS_DYNAMICS_EXPERIMENT_SETUP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/memory_config.h"
#include "lrmem/embedded_server.h"

namespace lrmem::experiments {

// The MemoryConfig the --memory_* flags describe. INVALID_ARGUMENT for an
// unknown layout, meta optimizer or change rule name, or a config that
// ValidateConfig rejects.
absl::StatusOr<MemoryConfig> MemoryConfigFromFlags();

// The server every memory of a job lives on: `server_address` when given,
// otherwise a server embedded in this process on `embedded_data_dir`,
// which is emptied first so that memories of an earlier run with the same
// names are not picked up again.
class MemoryServer {
 public:
  static absl::StatusOr<MemoryServer> Connect(
      const std::string& server_address, const std::string& embedded_data_dir);

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::shared_ptr<EmbeddedServer> embedded_;
};

// Calls run(0), ..., run(count - 1) on `jobs` threads and returns the first
// error; after an error no new index is started. `run` must be safe to call
// concurrently for different indices.
absl::Status RunParallel(int jobs, int count,
                         const std::function<absl::Status(int)>& run);

}  // namespace lrmem::experiments

#endif  // LRMEM_EXPERIMENTS_DYNAMICS_EXPERIMENT_SETUP_H_
