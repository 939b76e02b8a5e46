// -----------------------------------------------------------------------------
// File: torch_optimizer.h
// -----------------------------------------------------------------------------
//
// `lrmem::MemoryOptimizer` is a libtorch optimizer whose per-parameter
// learning rates come from a learning-rate memory. A training loop uses it
// like torch::optim::SGD or torch::optim::Adam:
//
//   lrmem::MemoryOptimizerOptions options;
//   options.memory = "mnist/1v2";            // created if missing
//   options.embedded_data_dir = "/tmp/lrmem"; // no server address: embedded
//   options.config.initial_learning_rate = 0.01f;
//   absl::StatusOr<std::unique_ptr<lrmem::MemoryOptimizer>> optimizer =
//       lrmem::MemoryOptimizer::Create(model->named_parameters().pairs(),
//                                      options);
//   if (!optimizer.ok()) { /* cannot connect, bad config, ... */ }
//   for (...) {
//     (*optimizer)->zero_grad();
//     torch::Tensor loss = torch::mse_loss(model->forward(x), y);
//     loss.backward();
//     (*optimizer)->step();
//   }
//   // Keep what the memory learned for the next task:
//   (*optimizer)->client().CreateSnapshot("mnist/1v2", "after-1v2");
//
// Every named parameter becomes a memory group of its own (or every layer,
// with Grouping::kPerLayer); the base optimizer is SGD or Adam with the
// memory's rates in place of a fixed learning rate (memory_wrapped_optimizer.h
// has the update rules). Parameters must be float32, contiguous and on the
// CPU. A step with a non-finite gradient is skipped: no parameter changes,
// nothing is sent, skipped_steps() counts it and last_status() says why.
//
// Thread-safety: like every torch optimizer, not thread-safe.

#ifndef LRMEM_TORCH_OPTIMIZER_H_
#define LRMEM_TORCH_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base_optimizers.h"
#include "common/memory_config.h"
#include "lrmem/client.h"
#include "lrmem/embedded_server.h"
#include "lrmem/memory_wrapped_optimizer.h"
#include "torch/optim/optimizer.h"

namespace lrmem {

// How named parameters map to memory groups.
enum class Grouping {
  // One group per named parameter ("conv1.weight", "conv1.bias").
  kPerParameter,
  // One group per layer: the name up to its last '.', so "conv1.weight" and
  // "conv1.bias" share the group "conv1".
  kPerLayer,
};

struct MemoryOptimizerOptions {
  // "host:port" of a running lrmem server. Empty: start an embedded server
  // in this process on `embedded_data_dir`.
  std::string server_address;
  // Embedded mode only: the server's private data directory, created if
  // missing. Required in embedded mode.
  std::string embedded_data_dir;
  // The memory to train with. Required.
  std::string memory;
  // Identifies this learner; jobs sharing a memory need different ids.
  std::string learner_id = "learner";
  // Create the memory with `config` when it does not exist.
  bool create_if_missing = true;
  MemoryConfig config;
  BaseOptimizer base = BaseOptimizer::kSgd;
  // Used when base == kAdam.
  AdamOptions adam;
  // true: statistics mode (traffic independent of the model's size);
  // false: rates mode. Both give the same rates.
  bool statistics_mode = true;
  Grouping grouping = Grouping::kPerParameter;
  // Admin call deadline and connection timeout.
  ClientOptions client;
};

class MemoryOptimizer : public torch::optim::Optimizer {
 public:
  // `named_parameters` as from module->named_parameters().pairs(); the
  // tensors are shared, not copied. Errors: INVALID_ARGUMENT for a
  // parameter that is not a contiguous float32 CPU tensor or for missing
  // options; UNAVAILABLE when the server cannot be reached; NOT_FOUND for a
  // missing memory without create_if_missing; the embedded server's error
  // when it cannot start.
  static absl::StatusOr<std::unique_ptr<MemoryOptimizer>> Create(
      const std::vector<std::pair<std::string, torch::Tensor>>&
          named_parameters,
      MemoryOptimizerOptions options);

  ~MemoryOptimizer() override;

  // Applies the memory's rates to every parameter that has a gradient. In a
  // layer group, a parameter without gradient counts as a zero gradient.
  // With a closure, first evaluates it (with gradients enabled) and returns
  // its loss. Throws std::runtime_error with the status message when the
  // step fails; a skipped step does not throw.
  torch::Tensor step(LossClosure closure = nullptr) override;

  // OK, or why the last step was skipped or failed.
  absl::Status last_status() const { return last_status_; }
  // Steps skipped for a non-finite gradient.
  int64_t skipped_steps() const;

  // Admin calls on the same server (embedded mode included), e.g. to take
  // and restore snapshots between tasks.
  Client& client() { return *client_; }
  // The server address in use (embedded: "127.0.0.1:<port>").
  const std::string& address() const { return address_; }
  // The memory groups, in declaration order.
  const std::vector<GroupDeclaration>& groups() const;

 private:
  struct Binding;

  MemoryOptimizer(std::vector<torch::Tensor> parameters,
                  MemoryOptimizerOptions options);
  absl::Status Connect();
  absl::Status StepGroups();

  MemoryOptimizerOptions options_;
  // Destroyed in reverse order: optimizer, client, then the server.
  std::unique_ptr<EmbeddedServer> embedded_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<MemoryWrappedOptimizer> optimizer_;
  std::string address_;
  std::vector<Binding> bindings_;
  absl::Status last_status_;
};

}  // namespace lrmem

#endif  // LRMEM_TORCH_OPTIMIZER_H_
